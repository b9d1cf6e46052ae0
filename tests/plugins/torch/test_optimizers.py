"""The torch trainer's optimizer (timm's create_optimizer_v2), gradient clipping, a fresh optimizer
on unfreezing, and the one layer-group rule for every model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from timm.optim import create_optimizer_v2
from torch import nn

from micro_bench import RunContext, Split
from micro_bench_torch import trainer as trainer_module
from micro_bench_torch.groups import (
    build_optimizer,
    describe_groups,
    layer_groups,
    set_trainable,
)
from micro_bench_torch.inputs import DevicePipeline
from micro_bench_torch.loops import train_epoch
from micro_bench_torch.runtime import resolve_runtime
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_torch.trainer import TorchTrainer

torch.set_num_threads(1)

BCE = nn.BCEWithLogitsLoss()
DS = synthetic_dataset(n=32, k=3, resolution=16)
SPLIT = Split.of(DS)


class TinyNet(nn.Module):
    """Three layer groups (stem with BatchNorm, body, head)."""

    def __init__(self, groups: bool = True) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))
        if groups:
            self.layer_groups = lambda: [[self.stem], [self.body], [self.head]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))


def _ctx(tmp_path: Path, lines: list[str] | None = None) -> RunContext:
    sink = lines if lines is not None else []
    return RunContext(directory=tmp_path, seed=3, label="t", progress=False, log=sink.append)


def _by_param(opt: torch.optim.Optimizer) -> dict[int, tuple[float, float]]:
    return {id(p): (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "momentum", "rmsprop", "lamb"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_optimizer_choices_equal_timms_own(name: str, weight_decay: float) -> None:
    model = TinyNet(groups=False)
    ours = build_optimizer(model, 0.01, (1.0,), weight_decay, name, momentum=0.8)
    theirs = create_optimizer_v2(model, name, lr=0.01, weight_decay=weight_decay, momentum=0.8)
    assert type(ours) is type(theirs)
    assert ours.defaults == theirs.defaults
    assert _by_param(ours) == _by_param(theirs)  # no decay on biases and norms, as timm
    if weight_decay:
        assert {wd for _, wd in _by_param(ours).values()} == {0.0, weight_decay}


def test_weight_decay_exemptions_follow_timms_no_weight_decay() -> None:
    from micro_bench_resnet.model import timm_model

    model = timm_model("vit_tiny_patch16_224", 3, in_chans=3, img_size=32, head="linear", seed=0)
    ours = _by_param(build_optimizer(model, 0.01, (1.0, 1.0, 1.0), 0.05, "adamw"))
    theirs = _by_param(create_optimizer_v2(model.net, "adamw", lr=0.01, weight_decay=0.05))
    assert ours == theirs
    assert ours[id(model.net.pos_embed)][1] == 0.0  # ViT's no_weight_decay()


def test_differential_rates_per_layer_group_survive_the_decay_split() -> None:
    model = TinyNet()
    opt = build_optimizer(model, 0.02, (0.1, 0.5, 1.0), 0.01, "sgd")
    rates = _by_param(opt)
    for group, factor in zip(layer_groups(model), (0.1, 0.5, 1.0), strict=True):
        assert [rates[id(p)][0] for p in group] == pytest.approx([0.02 * factor] * len(group))


def test_unknown_optimizer_is_one_line_with_suggestions() -> None:
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamww'; did you mean adamw") as info:
        TorchTrainer(optimizer="adamww", device="cpu")
    assert "\n" not in str(info.value)


def _batches(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 256, (4, 4, 8, 8), generator=g, dtype=torch.uint8),
             torch.randint(0, 2, (4, 3), generator=g).float()) for _ in range(3)]


@pytest.mark.parametrize("frozen", [False, True])
def test_clip_equals_clip_grad_norm_on_the_trainable_parameters(frozen: bool) -> None:
    rt = resolve_runtime("cpu", amp=False, channels_last=False)
    pipeline = DevicePipeline(rt.device, np.full(4, 0.5), np.full(4, 0.25))
    clip = 1e-3
    nets = [TinyNet(), TinyNet()]
    for net in nets:
        set_trainable(net, frozen)
    ours, ref = nets
    opt = torch.optim.SGD(ours.parameters(), lr=0.5)
    train_epoch(ours, _batches(), BCE, opt, None, rt, pipeline=pipeline, generator=torch.Generator(),
                epoch=1, progress=False, clip=clip)
    ref_opt, norms = torch.optim.SGD(ref.parameters(), lr=0.5), []
    ref.train()
    for x, y in _batches():
        ref_opt.zero_grad(set_to_none=True)
        BCE(ref(pipeline.train(x, torch.Generator())), y).backward()
        norms.append(float(nn.utils.clip_grad_norm_([p for p in ref.parameters() if p.requires_grad], clip)))
        ref_opt.step()
    assert min(norms) > clip  # the clip was active at every step
    for (name, a), b in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    unclipped = TinyNet()
    set_trainable(unclipped, frozen)
    train_epoch(unclipped, _batches(), BCE, torch.optim.SGD(unclipped.parameters(), lr=0.5), None, rt,
                pipeline=pipeline, generator=torch.Generator(), epoch=1, progress=False)
    assert not torch.allclose(unclipped.head[1].weight, ours.head[1].weight)


@pytest.mark.slow
@pytest.mark.parametrize("fresh", [True, False])
def test_fresh_optimizer_when_unfrozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: bool) -> None:
    seen: list[tuple[int, int]] = []
    real = trainer_module.train_epoch

    def spy(net, loader, loss, optimizer, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((id(optimizer), len(optimizer.state)))
        return real(net, loader, loss, optimizer, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "train_epoch", spy)
    trainer = TorchTrainer(batch_size=8, lr=0.01, device="cpu", threads=1, freeze_epochs=1, epochs=1,
                           checkpoint=False, epoch_metrics=(), fresh_optimizer=fresh, clip=1.0)
    lines: list[str] = []
    history = trainer.fit(TinyNet(), DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path, lines))
    (first, _), (second, state) = seen
    assert history["fresh_optimizer"] is fresh and history["clip"] == 1.0
    if fresh:
        assert second != first and state == 0  # Adam's moments start afresh
        assert any("fresh adam optimizer" in line for line in lines)
    else:
        assert second == first and state > 0  # the head's moments carried over


@pytest.mark.slow
def test_trainer_records_the_optimizer(tmp_path: Path) -> None:
    trainer = TorchTrainer(batch_size=8, lr=0.01, device="cpu", threads=1, freeze_epochs=0, epochs=1,
                           checkpoint=False, epoch_metrics=(), optimizer="sgd", momentum=0.5, weight_decay=0.01)
    history = trainer.fit(TinyNet(), DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path))
    record = history["optimizer"]
    assert record["name"] == "sgd" and record["class"] == "torch.optim.sgd.SGD"
    assert record["defaults"]["momentum"] == 0.5 and record["defaults"]["nesterov"] is True
    assert trainer.settings()["optimizer"] == "sgd"
    assert "optimizer" not in TorchTrainer(device="cpu").settings()  # defaults: old checkpoints resume


# --- layer groups --------------------------------------------------------------------------------


def test_plain_module_is_cut_in_module_order() -> None:
    model = TinyNet(groups=False)  # parameter-owning modules: conv, bn, conv, linear
    groups = layer_groups(model, 3)
    assert [[id(p) for p in g] for g in groups] == [
        [id(p) for p in [*model.stem[0].parameters(), *model.stem[1].parameters()]],
        [id(p) for p in model.body[0].parameters()],
        [id(p) for p in model.head[1].parameters()],
    ]
    set_trainable(model, frozen=True)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.1.weight", "head.1.bias"]


def test_layer_groups_method_wins() -> None:
    model = TinyNet()
    model.layer_groups = lambda: [[model.stem, model.body], [model.head]]
    groups = layer_groups(model, 3)
    assert len(groups) == 2
    record = describe_groups(model, (0.1, 0.333, 1.0))
    assert record["count"] == 2 and record["lr_factors"] == [0.333, 1.0]
    assert "fewer than the 3 lr_groups" in record["note"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=9), st.integers(1, 5))
def test_module_order_rule_partitions_every_parameter_once(widths: list[int], n: int) -> None:
    model = nn.Sequential(*[nn.Linear(w, w) for w in widths])
    groups = layer_groups(model, n)
    flat = [id(p) for g in groups for p in g]
    assert flat == [id(p) for p in model.parameters()]  # each once, in order
    assert len(groups) == min(n, len(widths))
    sizes = [len(g) // 2 for g in groups]  # modules per group differ by at most one
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.slow
@pytest.mark.parametrize("with_groups", [True, False])
def test_plain_module_with_and_without_layer_groups_freezes_the_head(tmp_path: Path, with_groups: bool) -> None:
    model = TinyNet(groups=with_groups)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = TorchTrainer(batch_size=8, lr=0.01, device="cpu", threads=1, freeze_epochs=1, epochs=0,
                           checkpoint=False, epoch_metrics=())
    history = trainer.fit(model, DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path))
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed == {"head.1.weight", "head.1.bias"}
    assert history["layer_groups"]["count"] == 3
    assert history["layer_groups"]["rule"] == ("layer_groups()" if with_groups else "modules in order")


@pytest.mark.slow
def test_fewer_groups_are_said_in_log_and_result(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(4, 3, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())  # one module
    lines: list[str] = []
    trainer = TorchTrainer(batch_size=8, lr=0.01, device="cpu", threads=1, freeze_epochs=1, epochs=0,
                           checkpoint=False, epoch_metrics=())
    history = trainer.fit(model, DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path, lines))
    note = history["layer_groups"]["note"]
    assert "1 layer group(s), fewer than the 3" in note and "nothing is frozen" in note
    assert any(note in line for line in lines)


def test_timm_model_groups_use_timms_group_matcher() -> None:
    from micro_bench_resnet.model import timm_model

    model = timm_model("resnet10t", 3, in_chans=4, head="linear", seed=0)
    matcher = timm.models.group_parameters(model.net, model.net.group_matcher(coarse=True))
    assert list(matcher)[0] == 0  # the stem is timm's first coarse group
    groups = layer_groups(model)
    stem = dict(model.net.named_parameters())["conv1.0.weight"]
    assert any(p is stem for p in groups[0]) and len(groups) == 3


def test_conformance_accepts_a_plain_module_and_names_the_rule() -> None:
    from micro_bench_conformance.checks import NUM_CLASSES, check_model

    plain = nn.Sequential(nn.Conv2d(4, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, NUM_CLASSES))
    assert "registration order" in check_model(plain)
