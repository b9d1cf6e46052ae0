"""Any timm model on equal terms: C-channel stems equal timm's own ``in_chans`` models (layer types,
padding, output shapes), the stem rules for C = 1..8, create_model keywords passed through and
checked, resolution and name errors in one line."""

from __future__ import annotations

import pytest
import timm
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from timm.models import adapt_input_conv
from torch import nn

from micro_bench.errors import ComponentError, ParameterError
from micro_bench_resnet import plugin
from micro_bench_resnet.model import STEM_INITS, stem_weight, timm_model

torch.set_num_threads(1)

#: One small member of each family (with keywords that keep them fast at 32 px).
FAMILIES = {
    "resnet": ("resnet18", {}),
    "resnet-d": ("resnet10t", {}),
    "efficientnet": ("efficientnet_b0", {}),
    "tf_efficientnet (Conv2dSame)": ("tf_efficientnet_b0", {}),
    "convnext": ("convnext_atto", {}),
    "regnet": ("regnetx_002", {}),
    "vit": ("vit_tiny_patch16_224", {"img_size": 32, "depth": 2}),
    "swin": ("swin_tiny_patch4_window7_224", {"img_size": 32, "window_size": 4, "depths": (1, 1, 1, 1)}),
    "mobilenetv3": ("mobilenetv3_small_050", {}),
}


def _first_conv(net: nn.Module) -> nn.Conv2d:
    name = net.pretrained_cfg["first_conv"]
    return net.get_submodule(name[0] if isinstance(name, (list, tuple)) else name)


#: building every family takes ~40 s on a loaded CPU: two in the quick suite, all in the slow one
QUICK = ("tf_efficientnet (Conv2dSame)", "vit")


@pytest.mark.parametrize("family", [f if f in QUICK else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES])
def test_adapted_stem_equals_timms_own_in_chans(family: str) -> None:
    arch, kwargs = FAMILIES[family]
    for c in (1, 3, 5):
        ours = timm_model(arch, 7, in_chans=c, stem_init="copy_red", head="linear", seed=0, **kwargs).eval()
        torch.manual_seed(0)
        theirs = timm.create_model(arch, in_chans=c, num_classes=7, **kwargs).eval()
        assert [type(m) for m in ours.net.modules()] == [type(m) for m in theirs.modules()], (family, c)
        a, b = _first_conv(ours.net), _first_conv(theirs)
        for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"):
            assert getattr(a, attr) == getattr(b, attr), (family, c, attr)
        assert a.weight.shape == b.weight.shape
        x = torch.rand(2, c, 32, 32, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            assert ours(x).shape == theirs(x).shape == (2, 7)
            if family.startswith("tf_"):  # "same" padding kept: the stem maps 32 px to 16, not 15
                assert ours.net.conv_stem(x).shape[-1] == 16


def test_stem_rules_table() -> None:
    w = torch.randn(8, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    r, g, b = w[:, 0], w[:, 1], w[:, 2]
    assert torch.equal(stem_weight(w, 1, "copy_red")[:, 0], r)
    assert torch.equal(stem_weight(w, 2, "zeros"), w[:, :2])
    five = stem_weight(w, 5, "copy_red")
    assert torch.equal(five[:, :3], w) and torch.equal(five[:, 3], r) and torch.equal(five[:, 4], r)
    assert torch.equal(stem_weight(w, 5, "zeros")[:, 3:], torch.zeros(8, 2, 3, 3))
    torch.testing.assert_close(stem_weight(w, 4, "mean")[:, 2], (r + g + b) / 3 * 3 / 4)
    for c in range(1, 9):
        torch.testing.assert_close(stem_weight(w, c, "timm"), adapt_input_conv(c, w.clone()))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.sampled_from(STEM_INITS))
def test_every_stem_rule_is_defined_for_1_to_8_channels(c: int, rule: str) -> None:
    w = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(c))
    out = stem_weight(w, c, rule)  # type: ignore[arg-type]
    assert out.shape == (4, c, 5, 5) and torch.isfinite(out).all()
    if rule == "mean" or (rule == "timm" and c in (1, 3, 6)):
        # a gray image replicated over C channels gets the RGB network's response to gray RGB
        torch.testing.assert_close(out.sum(dim=1), w.sum(dim=1))


def test_timm_keywords_pass_through() -> None:
    ours = timm_model("resnet10t", 3, in_chans=4, drop_path_rate=0.1, stem_width=16, seed=0)
    reference = timm.create_model("resnet10t", in_chans=4, num_classes=3, drop_path_rate=0.1, stem_width=16)
    assert [p.shape for p in ours.parameters()] == [p.shape for p in reference.parameters()]
    assert any(type(m).__name__ == "DropPath" and m.drop_prob > 0 for m in ours.net.modules())
    vit = timm_model("vit_tiny_patch16_224", 3, in_chans=4, img_size=32, depth=1, embed_dim=48, num_heads=3)
    assert vit.net.patch_embed.img_size == (32, 32) and len(vit.net.blocks) == 1
    assert vit(torch.zeros(2, 4, 32, 32)).shape == (2, 3)


def test_unknown_keyword_is_one_line_naming_it() -> None:
    with pytest.raises(ComponentError, match=r"unknown timm keyword 'img_sizee'; did you mean img_size\?") as info:
        timm_model("vit_tiny_patch16_224", 3, img_sizee=32)
    assert "\n" not in str(info.value)
    with pytest.raises(ComponentError, match="drop_rate cannot be set"):
        timm_model("resnet10t", 3, drop_rate=0.2)


def test_registry_signature_names_the_models_keywords() -> None:
    from micro_bench.host import Host

    registry = Host.load(entrypoints=False).registries["model"]
    registry.bind("timm:vit_tiny_patch16_224", {"num_classes": 3, "img_size": 32})
    with pytest.raises(ComponentError, match="unknown parameter 'img_sizee'.*Did you mean: img_size"):
        registry.bind("timm:vit_tiny_patch16_224", {"num_classes": 3, "img_sizee": 32})


def test_vit_at_32_px_says_the_fix_and_runs_with_it() -> None:
    vit = timm_model("vit_tiny_patch16_224", 3, in_chans=4, depth=1)
    with pytest.raises(ParameterError, match=r"takes 224x224 inputs but the run gives 32x32; set model.img_size: 32"):
        vit(torch.zeros(2, 4, 32, 32))
    small = timm_model("vit_tiny_patch16_224", 3, in_chans=4, depth=1, img_size=32)
    assert small(torch.zeros(2, 4, 32, 32)).shape == (2, 3)


def test_unknown_timm_name_has_did_you_mean() -> None:
    with pytest.raises(ComponentError, match=r"unknown timm model 'timm:convnext_attoo'; did you mean timm:convnext_atto"):
        plugin.micro_bench_resolve_component("model", "timm:convnext_attoo")
    with pytest.raises(ComponentError, match="unknown timm model 'timm:resnet50.nosuch_tag'"):
        plugin.micro_bench_resolve_component("model", "timm:resnet50.nosuch_tag")
    assert plugin.micro_bench_resolve_component("model", "timm:resnet50.a1_in1k") is not None


def test_list_model_timm_lists_timms_models_with_their_weights() -> None:
    from click.testing import CliRunner

    from micro_bench.host import Host
    from micro_bench_commands.cli import cli

    result = CliRunner().invoke(cli, ["list", "model", "timm:convnext_at*"], obj=Host.load(entrypoints=False))
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  timm:")}
    assert list(rows) == [f"timm:{n}" for n in timm.list_models("convnext_at*")]
    for name, line in rows.items():
        tags = [t.partition(".")[2] for t in timm.list_pretrained(name[len("timm:"):] + ".*")]
        assert ("no pretrained weights" in line) == (not tags)
        assert all(tag in line for tag in tags[:3])
    missing = CliRunner().invoke(cli, ["list", "model", "timm:zzz_nothing"], obj=Host.load(entrypoints=False))
    assert missing.exit_code != 0 and "no timm model matches 'zzz_nothing'" in missing.output
