"""The 4-channel ResNets: stem initialisation from a local weights file, forward, fastai's head,
layer groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from micro_bench.errors import ComponentError
from micro_bench_resnet import plugin
from micro_bench_resnet.model import (
    fastai_head,
    resnet18_4ch,
    resnet50_4ch,
    stem_weight,
    timm_model,
)

torch.set_num_threads(1)


def _weights_file(tmp_path: Path, arch: str) -> tuple[Path, torch.Tensor]:
    """A randomly initialised 3-channel ImageNet-shaped state dict saved like a checkpoint."""
    torch.manual_seed(0)
    reference = timm.create_model(arch, pretrained=False, num_classes=1000)
    path = tmp_path / f"{arch}.pth"
    torch.save(reference.state_dict(), path)
    return path, reference.conv1.weight.detach().clone()


@pytest.fixture(scope="module")
def r18(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    return _weights_file(tmp_path_factory.mktemp("w"), "resnet18")


def test_copy_red_keeps_rgb_and_copies_red_to_yellow(r18: tuple[Path, torch.Tensor]) -> None:
    path, rgb = r18
    model = resnet18_4ch(num_classes=5, pretrained=str(path), stem_init="copy_red")
    w = model.net.conv1.weight.detach()
    assert w.shape == (64, 4, 7, 7)
    torch.testing.assert_close(w[:, :3], rgb, rtol=0, atol=0)
    torch.testing.assert_close(w[:, 3], rgb[:, 0], rtol=0, atol=0)


def test_zeros_keeps_rgb_and_zeroes_yellow(r18: tuple[Path, torch.Tensor]) -> None:
    path, rgb = r18
    w = resnet18_4ch(num_classes=5, pretrained=str(path), stem_init="zeros").net.conv1.weight
    torch.testing.assert_close(w[:, :3].detach(), rgb, rtol=0, atol=0)
    assert torch.count_nonzero(w[:, 3]) == 0


def test_timm_init_repeats_and_scales_by_three_quarters(r18: tuple[Path, torch.Tensor]) -> None:
    path, rgb = r18
    w = resnet18_4ch(num_classes=5, pretrained=str(path), stem_init="timm").net.conv1.weight.detach()
    torch.testing.assert_close(w[:, :3], rgb * 0.75)
    torch.testing.assert_close(w[:, 3], rgb[:, 0] * 0.75)


def test_rest_of_the_file_is_loaded_and_head_is_new(r18: tuple[Path, torch.Tensor]) -> None:
    path, _ = r18
    state = torch.load(path, weights_only=True)
    model = resnet18_4ch(num_classes=5, pretrained=str(path))
    torch.testing.assert_close(model.net.layer3[0].conv1.weight.detach(), state["layer3.0.conv1.weight"])
    assert model.head[-1].weight.shape == (5, 512)  # fastai head on 2 x 512 pooled features
    assert model.head[0].num_features == 1024
    linear = resnet18_4ch(num_classes=5, pretrained=str(path), head="linear")
    assert linear.head is None and linear.net.fc.weight.shape == (5, 512)


def test_stem_weight_matches_manual_construction() -> None:
    w = torch.randn(8, 3, 3, 3)
    out = stem_weight(w, 5, "copy_red")
    assert out.shape == (8, 5, 3, 3)
    assert torch.equal(out[:, 3], w[:, 0]) and torch.equal(out[:, 4], w[:, 0])
    with pytest.raises(ValueError, match="stem_init"):
        stem_weight(w, 4, "bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize("head", ["fastai", "linear"])
def test_layer_groups_cover_every_parameter_once(head: str) -> None:
    # fastai 0.7 cut torchvision's ResNets at child 6 of 8 (model_meta[resnet50] = [8, 6]):
    # conv1, bn1, relu, maxpool, layer1, layer2 | layer3, layer4 | the head.
    model = resnet18_4ch(num_classes=3, pretrained=False, head=head)
    groups = model.layer_groups()
    assert len(groups) == 3
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    net = model.net
    classifier = net.fc if head == "linear" else model.head
    assert {id(p) for p in groups[2]} == {id(p) for p in classifier.parameters()}
    first = {id(p) for m in (net.conv1, net.bn1, net.layer1, net.layer2) for p in m.parameters()}
    assert {id(p) for p in groups[0]} == first
    second = {id(p) for m in (net.layer3, net.layer4) for p in m.parameters()}
    assert {id(p) for p in groups[1]} == second


def test_resnet50_forward_from_file(tmp_path: Path) -> None:
    path, rgb = _weights_file(tmp_path, "resnet50")
    model = resnet50_4ch(num_classes=28, pretrained=str(path), head="linear").eval()
    assert model.net.drop_rate == 0.5
    torch.testing.assert_close(model.net.conv1.weight[:, 3].detach(), rgb[:, 0], rtol=0, atol=0)
    with torch.no_grad():
        out = model(torch.randn(2, 4, 32, 32))
    assert out.shape == (2, 28) and torch.isfinite(out).all()
    sizes = [sum(p.numel() for p in g) for g in model.layer_groups()]
    assert sum(sizes) == sum(p.numel() for p in model.parameters())
    assert sizes[2] == 2048 * 28 + 28


def test_resnet50_fastai_head_structure_and_parameter_count() -> None:
    # ConvLearner.pretrained(resnet50, data, ps=0.5) with 4 input channels and 28 classes.
    model = resnet50_4ch(num_classes=28, pretrained=False, seed=0)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 25_632_412
    kinds = [(type(m).__name__, getattr(m, "p", None)) for m in model.head]
    assert kinds == [("BatchNorm1d", None), ("Dropout", 0.5), ("Linear", None), ("ReLU", None),
                     ("BatchNorm1d", None), ("Dropout", 0.5), ("Linear", None)]
    assert (model.head[0].num_features, model.head[2].in_features, model.head[2].out_features) == (4096, 4096, 512)
    assert (model.head[4].num_features, model.head[6].in_features, model.head[6].out_features) == (512, 512, 28)
    sizes = [sum(p.numel() for p in g) for g in model.layer_groups()]
    assert sizes[2] == 2 * 4096 + 4096 * 512 + 512 + 2 * 512 + 512 * 28 + 28
    # The body's 2048 channels pooled by average and by max, concatenated (AdaptiveConcatPool2d).
    x = torch.randn(2, 4, 64, 64)
    model.eval()
    with torch.no_grad():
        fmap = model.net.forward_features(x)
        pooled = model.net.forward_head(fmap, pre_logits=True)
        expected = torch.cat([fmap.mean((2, 3)), fmap.amax((2, 3))], 1)
        torch.testing.assert_close(pooled, expected)
        torch.testing.assert_close(model(x), model.head(expected))


def test_fastai_head_dropout_and_init() -> None:
    torch.manual_seed(0)
    head = fastai_head(4096, 28, dropout=[0.25, 0.5])
    assert [m.p for m in head if isinstance(m, torch.nn.Dropout)] == [0.25, 0.5]
    assert [type(m).__name__ for m in fastai_head(64, 3, dropout=0)] == [
        "BatchNorm1d", "Linear", "ReLU", "BatchNorm1d", "Linear"]
    linear = head[2]
    assert torch.count_nonzero(linear.bias) == 0
    # Kaiming normal, fan in, ReLU gain: std sqrt(2 / 4096).
    assert abs(float(linear.weight.detach().std()) - (2 / 4096) ** 0.5) < 0.02 * (2 / 4096) ** 0.5
    bn = head[0]
    assert float(bn.weight.min()) >= 0 and float(bn.weight.max()) < 1 and torch.count_nonzero(bn.bias) == 0
    with pytest.raises(ComponentError, match="dropout"):
        resnet18_4ch(num_classes=2, pretrained=False, dropout=[0.1, 0.2, 0.3])
    with pytest.raises(ComponentError, match="head"):
        resnet18_4ch(num_classes=2, pretrained=False, head="mlp")  # type: ignore[arg-type]


def test_bad_pretrained_and_stem_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ComponentError, match="missing.pth"):
        resnet18_4ch(num_classes=2, pretrained=str(tmp_path / "missing.pth"))
    with pytest.raises(ComponentError, match="stem_init"):
        resnet18_4ch(num_classes=2, pretrained=False, stem_init="red")  # type: ignore[arg-type]


def test_plugin_specs_and_timm_resolver() -> None:
    names = {spec.name for spec in plugin.micro_bench_models()}
    assert names == {"resnet18_4ch", "resnet34_4ch", "resnet50_4ch"}
    assert plugin.micro_bench_resolve_component("loss", "timm:resnet18") is None
    spec = plugin.micro_bench_resolve_component("model", "timm:resnet18")
    assert spec is not None and spec.name == "timm:resnet18"
    model = spec.factory(num_classes=3, in_chans=4).eval()
    assert model(torch.randn(1, 4, 32, 32)).shape == (1, 3)
    assert len(model.layer_groups()) == 3


def test_timm_model_generic_layer_groups() -> None:
    model = timm_model("efficientnet_b0", num_classes=3, in_chans=4, stem_init="zeros")
    ids = [id(p) for g in model.layer_groups() for p in g]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())


def test_seed_makes_initialisation_reproducible_without_touching_the_global_rng():
    from micro_bench_resnet.model import resnet18_4ch

    state = torch.get_rng_state()
    a = resnet18_4ch(num_classes=3, pretrained=False, seed=7)
    b = resnet18_4ch(num_classes=3, pretrained=False, seed=7)
    c = resnet18_4ch(num_classes=3, pretrained=False, seed=8)
    assert torch.equal(torch.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["head.6.weight"], sc["head.6.weight"])
