"""lr_find: the exponential sweep, smoothing, divergence stop, restoration, suggestion, CLI."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from micro_bench_torch.groups import build_optimizer
from micro_bench_torch.lr_find import lr_find, suggest_lr
from micro_bench_torch.testing import synthetic_dataset

torch.set_num_threads(1)

DS = synthetic_dataset(n=64, k=3, resolution=16)
TRAIN = DS.split_indices("train")
BCE = nn.BCEWithLogitsLoss()


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.mid = nn.Sequential(nn.Flatten(), nn.Linear(8, 8), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mid(self.stem(x)))

    def layer_groups(self) -> list[list[nn.Module]]:
        return [[self.stem], [self.mid], [self.head]]


def test_sweep_is_exponential_smoothed_and_restores_everything() -> None:
    model = TinyNet()
    opt = build_optimizer(model, 0.02, (0.1, 0.333, 1.0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt_before = [dict(g) for g in opt.param_groups]
    result = lr_find(model, DS, TRAIN, loss=BCE, start_lr=1e-5, end_lr=1e-1, num_iter=6, batch_size=8,
                     optimizer=opt, frozen=False, device="cpu", beta=0.9, divergence=1e9)
    assert len(result.lrs) == 6 and result.stopped == "end of sweep"
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-5, 1e-1, 6), rtol=1e-12)
    ema, expected = 0.0, []
    for i, raw in enumerate(result.losses):
        ema = 0.9 * ema + 0.1 * raw
        expected.append(ema / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(result.smoothed, expected, rtol=1e-12)
    assert result.smoothed[0] == pytest.approx(result.losses[0])  # bias correction
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=k)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in opt_before]
    assert opt.state_dict()["state"] == {}
    assert all(p.requires_grad for p in model.parameters())


def test_one_pass_cap_and_divergence_stop() -> None:
    model = TinyNet()
    capped = lr_find(model, DS, TRAIN, loss=BCE, num_iter=1000, batch_size=16, device="cpu")
    assert len(capped.lrs) == int(np.ceil(len(TRAIN) / 16))  # one pass
    big = lr_find(model, DS, TRAIN, loss=BCE, start_lr=1e-3, end_lr=1e6, num_iter=7, batch_size=8,
                  frozen=False, device="cpu", divergence=1.05)
    assert big.stopped.startswith("diverged") and len(big.lrs) < 7
    assert big.smoothed[-1] > 1.05 * min(big.smoothed[:-1])


def test_frozen_sweep_leaves_body_frozen_state_restored() -> None:
    model = TinyNet()
    model.stem[0].weight.requires_grad_(False)
    lr_find(model, DS, TRAIN, loss=BCE, num_iter=3, batch_size=8, device="cpu")
    assert not model.stem[0].weight.requires_grad and model.head.weight.requires_grad


def test_suggestion_rules() -> None:
    lrs = np.geomspace(1e-6, 10, 200)
    x = np.log10(lrs)
    loss = 1 / (1 + np.exp(3 * (x + 2))) + 0.05 * np.exp(x - 0.5)  # steepest fall at 1e-2
    rate, rule, candidates = suggest_lr(lrs, loss, rule="steepest")
    assert rule.startswith("steepest") and rate == pytest.approx(1e-2, rel=0.1)
    assert candidates["min/10"] == pytest.approx(lrs[np.argmin(loss)] / 10)
    rate, rule, _ = suggest_lr(lrs, loss)  # the default: fastai 0.7 practice, a tenth of the minimum
    assert rule.startswith("min/10") and rate == candidates["min/10"]
    rate, rule, _ = suggest_lr(lrs[:4], [1.0, 0.9, 1.2, 2.0], skip_start=0, skip_end=0, rule="steepest")
    assert rule.startswith("min/10") and "too few points" in rule and rate == pytest.approx(lrs[1] / 10)
    with pytest.raises(ValueError, match="rule must be one of min/10, steepest"):
        suggest_lr(lrs, loss, rule="valley")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.01, 10), min_size=3, max_size=60))
def test_suggestion_lies_within_the_sweep(losses: list[float]) -> None:
    lrs = np.geomspace(1e-5, 1, len(losses))
    rate, _, candidates = suggest_lr(lrs, losses)
    assert rate in candidates.values()
    assert lrs[0] / 10 - 1e-18 <= rate <= lrs[-1]


def test_save_and_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import micro_bench
    from micro_bench_torch.cli import lr_find_command
    from micro_bench_torch.trainer import TorchTrainer

    run = types.SimpleNamespace(label="BCE", index=0, seed=0, split={"fractions": [0.8, 0.1, 0.1], "seed": 0})
    config = types.SimpleNamespace(name="bench", runs=(run,))
    split = types.SimpleNamespace(train=TRAIN)
    built = types.SimpleNamespace(dataset=DS, split=split, model=TinyNet(), loss=BCE,
                                  trainer=TorchTrainer(batch_size=8, device="cpu"))
    monkeypatch.setattr(micro_bench, "load_benchmark", lambda path, profile=None, overrides=(), host=None: config)
    monkeypatch.setattr(micro_bench, "prepare_run", lambda cfg, host=None: built)
    host = micro_bench.Host()
    bench = tmp_path / "bench.yaml"
    bench.write_text("version: 1\n")
    out = CliRunner().invoke(lr_find_command, [str(bench), "--out", str(tmp_path / "o"), "--num-iter", "5"], obj=host)
    assert out.exit_code == 0, out.output
    assert "suggested lr" in out.output
    data = json.loads((tmp_path / "o" / "lr_find.json").read_text())
    assert len(data["lrs"]) == 5 and data["rule"] and data["suggestion"] > 0
    assert (tmp_path / "o" / "lr_find.png").stat().st_size > 0
    bad = CliRunner().invoke(lr_find_command, [str(bench), "--run", "nope"], obj=host)
    assert bad.exit_code != 0 and "no run labelled 'nope'" in str(bad.exception)


def test_trainer_lr_find_trains_with_the_recorded_choice(tmp_path: Path) -> None:
    from micro_bench import RunContext, Split
    from micro_bench_torch.trainer import TorchTrainer

    options = {"start_lr": 1e-5, "end_lr": 1.0, "num_iter": 6}
    trainer = TorchTrainer(batch_size=8, lr="find", lr_find=options, device="cpu", threads=1,
                           freeze_epochs=1, epochs=1, checkpoint=False)
    ctx = RunContext(directory=tmp_path, seed=3, label="t", progress=False, log=lambda s: None)
    history = trainer.fit(TinyNet(), DS, Split.of(DS), loss=BCE, schedule=None, context=ctx)
    found = history["lr_find"]
    assert found["rule"].startswith("min/10") and found["options"]["num_iter"] == 6
    assert history["base_lr"] == found["suggestion"] == found["candidates"]["min/10"]
    assert history["lr_iter"][0] == pytest.approx(found["suggestion"])  # the head trains at it
    # The same sweep run by hand (head only, the run's seed and statistics) picks the same rate.
    direct = lr_find(TinyNet(), DS, TRAIN, loss=BCE, batch_size=8, device="cpu", seed=3,
                     mean=trainer.stats[0], std=trainer.stats[1], frozen=True, **options)
    assert direct.suggestion == found["suggestion"] and direct.lrs == found["lrs"]
    saved = json.loads((tmp_path / "lr_find.json").read_text())
    assert saved["suggestion"] == found["suggestion"]
    with pytest.raises(ValueError, match="lr must be > 0 or 'find'"):
        TorchTrainer(lr="auto", device="cpu")
    with pytest.raises(ValueError, match="unknown lr_find key"):
        TorchTrainer(lr="find", lr_find={"steps": 3}, device="cpu")
    with pytest.raises(ValueError, match="lr_find.rule must be one of"):
        TorchTrainer(lr="find", lr_find={"rule": "valley"}, device="cpu")


def test_short_sweep_is_recorded_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """51 training samples at batch 8: a 7-point sweep, fewer than the ~50 iterations the 0.98-smoothed
    loss averages over: recorded, saved and printed as a warning; 50 points are enough."""
    import micro_bench
    from micro_bench_torch.cli import END_LR, START_LR, lr_find_command
    from micro_bench_torch.lr_find import LR_FIND_DEFAULTS, too_few
    from micro_bench_torch.trainer import TorchTrainer

    assert (START_LR, END_LR) == (LR_FIND_DEFAULTS["start_lr"], LR_FIND_DEFAULTS["end_lr"]) == (1e-5, 10.0)
    result = lr_find(TinyNet(), DS, TRAIN, loss=BCE, num_iter=None, batch_size=8, device="cpu")
    assert len(result.lrs) == -(-len(TRAIN) // 8)
    assert result.warning is not None and result.warning.startswith(f"only {len(result.lrs)} iterations (one pass of")
    assert too_few(50, 0.98, planned=50, samples=3200, batch_size=64) is None
    assert "stopped early of 60 planned" in too_few(12, 0.98, planned=60, samples=3840, batch_size=64)
    run = types.SimpleNamespace(label="BCE", index=0, seed=0, split={"fractions": [0.8, 0.1, 0.1], "seed": 0})
    built = types.SimpleNamespace(dataset=DS, split=types.SimpleNamespace(train=TRAIN), model=TinyNet(), loss=BCE,
                                  trainer=TorchTrainer(batch_size=8, device="cpu"))
    monkeypatch.setattr(micro_bench, "load_benchmark",
                        lambda path, profile=None, overrides=(), host=None: types.SimpleNamespace(name="b", runs=(run,)))
    monkeypatch.setattr(micro_bench, "prepare_run", lambda cfg, host=None: built)
    bench = tmp_path / "bench.yaml"
    bench.write_text("version: 1\n")
    out = CliRunner().invoke(lr_find_command, [str(bench), "--out", str(tmp_path / "o")], obj=micro_bench.Host())
    assert out.exit_code == 0, out.output
    assert "warning: only 7 iterations (one pass of 51 training samples at batch 8)" in out.output
    saved = json.loads((tmp_path / "o" / "lr_find.json").read_text())
    assert saved["lrs"][0] == pytest.approx(1e-5) and saved["warning"].startswith("only 7 iterations")
