"""The torch trainer: differential rates, freezing, schedule, checkpoints/resume, NaN guard, predict."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torchvision.transforms.v2 import functional as TF

from micro_bench import RunContext, Split
from micro_bench_torch.checkpoint import load_checkpoint
from micro_bench_torch.errors import CheckpointError, TrainingDiverged
from micro_bench_torch.groups import build_optimizer
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_torch.trainer import TorchTrainer
from micro_bench_transforms.fastai import FastaiAugment

torch.set_num_threads(1)


class TinyNet(nn.Module):
    """Three layer groups: conv+BN, conv, head (dropout + linear). Input (B, 4, R, R)."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))

    def layer_groups(self) -> list[list[nn.Module]]:
        return [[self.stem], [self.body], [self.head]]


class Cosine:
    """Stand-in schedule: one cosine from 1 to 0 over ``epochs``."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def multiplier(self, step: int, steps_per_epoch: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * step / (self.epochs * steps_per_epoch)))

    def attach(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> LambdaLR:
        return LambdaLR(optimizer, lambda s: self.multiplier(s, steps_per_epoch))


DS = synthetic_dataset(n=40, k=3, resolution=16)
SPLIT = Split.of(DS)
TRAIN, VAL = SPLIT.train, SPLIT.val
BCE = nn.BCEWithLogitsLoss()


def _ctx(tmp_path: Path, **kw: object) -> RunContext:
    return RunContext(directory=tmp_path, seed=3, label="t", progress=False, log=lambda s: None, **kw)


def _trainer(**kw: object) -> TorchTrainer:
    params: dict[str, object] = dict(batch_size=8, lr=0.01, device="cpu", threads=1)
    params.update(kw)
    return TorchTrainer(**params)  # type: ignore[arg-type]


def test_optimizer_groups_carry_differential_rates() -> None:
    opt = build_optimizer(TinyNet(), 0.02, (0.1, 0.333, 1.0))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.002, 0.02 * 0.333, 0.02])
    assert isinstance(opt, torch.optim.Adam)
    with pytest.raises(ValueError, match="lr_groups has 2 factors"):
        build_optimizer(TinyNet(), 0.02, (0.1, 1.0))


def test_frozen_epoch_trains_only_the_head(tmp_path: Path) -> None:
    model = TinyNet()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _trainer(freeze_epochs=1, epochs=0, checkpoint=False).fit(
        model, DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path))
    for name, p in model.named_parameters():
        changed = not torch.equal(p.detach(), before[name])
        assert changed == name.startswith("head."), name
    assert all(p.requires_grad for p in model.parameters())  # unfrozen afterwards


def test_history_schedule_checkpoint_and_figure(tmp_path: Path) -> None:
    seen: list[tuple[int, dict[str, float]]] = []
    trainer = _trainer(freeze_epochs=1)
    history = trainer.fit(TinyNet(), DS, SPLIT, loss=BCE, schedule=Cosine(2),
                          context=_ctx(tmp_path, epoch_end=lambda e, m: seen.append((e, dict(m)))))
    steps = trainer.steps_per_epoch(len(TRAIN))
    assert steps == math.ceil(len(TRAIN) / 8)
    assert [e for e, _ in seen] == [1, 2, 3] and history["epoch"] == [1, 2, 3]
    assert set(seen[0][1]) == {"train_loss", "val_loss", "lr"}
    # frozen epoch at the constant base rate, then the schedule per iteration from its step 0
    expected = [0.01] * steps + [0.01 * Cosine(2).multiplier(s, steps) for s in range(2 * steps)]
    np.testing.assert_allclose(history["lr_iter"], expected, rtol=1e-12)
    assert all(np.isfinite(history["train_loss"])) and all(np.isfinite(history["val_loss"]))
    assert (tmp_path / "lr.png").stat().st_size > 0
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state is not None and state["epoch"] == 3 and state["scheduler"]["last_epoch"] == 2 * steps
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path: Path) -> None:
    full, aug = TinyNet(), FastaiAugment()
    _trainer().fit(full, DS, SPLIT, loss=BCE, schedule=Cosine(2), transform=aug, context=_ctx(tmp_path / "a"))

    def crash(epoch: int, metrics: object) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _trainer().fit(TinyNet(), DS, SPLIT, loss=BCE, schedule=Cosine(2), transform=aug,
                       context=_ctx(tmp_path / "b", epoch_end=crash))
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["epoch"] == 2  # type: ignore[index]
    resumed = TinyNet()
    history = _trainer().fit(resumed, DS, SPLIT, loss=BCE, schedule=Cosine(2), transform=aug,
                             context=_ctx(tmp_path / "b"))
    assert history["epoch"] == [1, 2, 3]
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_augmented_training_is_the_same_with_a_loader_worker(tmp_path: Path) -> None:
    """Augmentation draws happen on the device side, so workers do not change the numbers."""
    weights = []
    for workers in (0, 1):
        model = TinyNet()
        history = _trainer(epochs=1, num_workers=workers).fit(model, DS, SPLIT, loss=BCE, schedule=None,
                                                    transform=FastaiAugment(), context=_ctx(tmp_path / str(workers)))
        weights.append(model.state_dict())
        assert history["transform"] == {"class": "FastaiAugment", **FastaiAugment().settings()}  # defaults recorded
    for name, a in weights[0].items():
        torch.testing.assert_close(a, weights[1][name], rtol=0, atol=0, msg=name)
    plain = TinyNet()
    history = _trainer(epochs=1).fit(plain, DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path / "plain"))
    assert history["transform"] is None and history["loader"]["num_workers"] == 0
    assert not torch.equal(plain.head[2].weight, weights[0]["head.2.weight"])  # the transform was used


def test_checkpoint_from_other_settings_is_refused(tmp_path: Path) -> None:
    _trainer(epochs=0).fit(TinyNet(), DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path))
    with pytest.raises(CheckpointError, match="other trainer settings"):
        _trainer(epochs=0, lr=0.5).fit(TinyNet(), DS, SPLIT, loss=BCE, schedule=None,
                                       context=_ctx(tmp_path))


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    calls = {"n": 0}
    steps = _trainer().steps_per_epoch(len(TRAIN))

    def flaky(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.requires_grad:
            calls["n"] += 1
        value = BCE(logits, targets)
        return value * float("nan") if calls["n"] == steps + 2 else value

    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 2, step 2/\d+ .*lower trainer.lr"):
        _trainer(epochs=2).fit(TinyNet(), DS, SPLIT, loss=flaky, schedule=None, context=_ctx(tmp_path))
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state is not None and state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_missing_length_and_loss_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="set trainer.epochs"):
        _trainer().fit(TinyNet(), DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path))
    with pytest.raises(ValueError, match="needs a loss"):
        _trainer(epochs=1).fit(TinyNet(), DS, SPLIT, loss=None, schedule=None, context=_ctx(tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        TorchTrainer(batch_size=0)


class Flips:
    """Stand-in TTA: identity and horizontal flip, mean."""

    def views(self, batch: torch.Tensor, generator: object = None, *, transform: object = None) -> list[torch.Tensor]:
        return [batch, batch.flip(-1)]

    def reduce(self, probabilities: torch.Tensor) -> torch.Tensor:
        return probabilities.mean(0)


def test_predict_is_sigmoid_of_standardized_input_with_tta(tmp_path: Path) -> None:
    model, trainer, idx = TinyNet().eval(), _trainer(channels_last=False), DS.split_indices("test")
    trainer.stats = mean, std = DS.channel_stats(TRAIN)
    x = TF.normalize(torch.from_numpy(DS.images(idx).compute()).float() / 255, list(mean / 255), list(std / 255))
    with torch.no_grad():
        plain = torch.sigmoid(model(x)).numpy()
        both = (torch.sigmoid(model(x)) + torch.sigmoid(model(x.flip(-1)))).numpy() / 2
    got = trainer.predict(model, DS, idx, tta=None, context=_ctx(tmp_path))
    assert got.shape == (len(idx), 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trainer.predict(model, DS, idx, tta=Flips(), context=_ctx(tmp_path)), both,
                               rtol=1e-5, atol=1e-6)
    assert trainer.predict(model, DS, idx[:0], tta=None, context=_ctx(tmp_path)).shape == (0, 3)


def test_resnet18_4ch_trains_one_step_channels_last(tmp_path: Path) -> None:
    from micro_bench_resnet.model import resnet18_4ch

    model = resnet18_4ch(num_classes=3, pretrained=False)
    history = _trainer(epochs=0, batch_size=16).fit(model, DS, SPLIT, loss=BCE, schedule=None,
                                                    context=_ctx(tmp_path))
    assert model.net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert np.isfinite(history["train_loss"][0])


def test_a_weighted_loss_adapts_to_the_train_split_and_is_recorded(tmp_path: Path) -> None:
    from micro_bench_losses.focal import bce
    from micro_bench_losses.weights import pos_weights

    loss = bce(pos_weight="sqrt_inverse")
    history = _trainer(freeze_epochs=0, epochs=1, checkpoint=False).fit(
        TinyNet(), DS, SPLIT, loss=loss, schedule=None, context=_ctx(tmp_path))
    expected = pos_weights(DS.labels[TRAIN], "sqrt_inverse")
    assert history["loss_weights"]["pos_weight_rule"] == "sqrt_inverse"
    np.testing.assert_allclose(history["loss_weights"]["pos_weight"], expected)
    np.testing.assert_allclose(loss.pos_weight.numpy(), expected, rtol=1e-6)


def test_history_records_the_cpu_threads_the_fit_used_and_restores_torch_s(tmp_path: Path) -> None:
    before = torch.get_num_threads()  # 1: set at the top of this module
    pinned = _trainer(threads=2, epochs=1, freeze_epochs=0, checkpoint=False).fit(
        TinyNet(), DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path / "a"))
    assert pinned["cpu_threads"] == 2
    assert torch.get_num_threads() == before
    default = _trainer(threads=None, epochs=1, freeze_epochs=0, checkpoint=False).fit(
        TinyNet(), DS, SPLIT, loss=BCE, schedule=None, context=_ctx(tmp_path / "b"))
    assert default["cpu_threads"] == before
