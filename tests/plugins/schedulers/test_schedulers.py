"""Tests of the bundled schedules against torch's own schedulers, step by step."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts, OneCycleLR

from micro_bench_schedulers.constant import Constant
from micro_bench_schedulers.one_cycle import OneCycle
from micro_bench_schedulers.plot import plot_schedule, schedule_curve
from micro_bench_schedulers.plugin import micro_bench_schedulers
from micro_bench_schedulers.sgdr import SGDR

BASE_RATES = (0.002, 0.00666, 0.02)  # the paper's lr/10, lr/3, lr with lr = 0.02


def _optimizer(kind: type[torch.optim.Optimizer] = torch.optim.Adam) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in BASE_RATES]
    return kind(groups)


def _rates(optimizer: torch.optim.Optimizer) -> list[float]:
    return [group["lr"] for group in optimizer.param_groups]


def _trace(scheduler: torch.optim.lr_scheduler.LRScheduler, optimizer: torch.optim.Optimizer,
           steps: int) -> list[list[float]]:
    """The groups' rates used at each of ``steps`` iterations (optimizer step, then scheduler step)."""
    trace = []
    for _ in range(steps):
        trace.append(_rates(optimizer))
        optimizer.step()
        scheduler.step()
    return trace


@pytest.mark.parametrize(("cycle_len", "cycle_mult", "cycles", "steps_per_epoch"),
                         [(1, 2, 3, 5), (2, 1, 3, 4), (1, 3, 2, 7), (3, 2, 2, 1)])
def test_sgdr_equals_torch_cosine_warm_restarts(cycle_len: int, cycle_mult: int, cycles: int,
                                                steps_per_epoch: int) -> None:
    schedule = SGDR(cycle_len=cycle_len, cycle_mult=cycle_mult, cycles=cycles)
    steps = (schedule.epochs + 2) * steps_per_epoch  # a little past the end, too
    ours_opt, ref_opt = _optimizer(), _optimizer()
    ours = _trace(schedule.attach(ours_opt, steps_per_epoch), ours_opt, steps)
    ref = CosineAnnealingWarmRestarts(ref_opt, T_0=cycle_len * steps_per_epoch, T_mult=cycle_mult, eta_min=0)
    expected = _trace(ref, ref_opt, steps)
    for step, (got, want) in enumerate(zip(ours, expected, strict=True)):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), f"step {step}"


def test_sgdr_paper_length_and_shape() -> None:
    schedule = SGDR()  # cycle_len 1, cycle_mult 2, cycles 3
    assert schedule.epochs == 7
    assert SGDR(cycle_len=2, cycle_mult=2, cycles=3).epochs == 14
    assert SGDR(cycle_mult=1, cycles=4).epochs == 4
    assert schedule.restarts(10) == [10, 30]
    curve = schedule_curve(schedule, 10, base_lr=0.02)
    assert len(curve) == 70
    assert [curve[i] for i in (0, 10, 30)] == [0.02, 0.02, 0.02]
    assert curve[5] == pytest.approx(0.01) and curve[20] == pytest.approx(0.01) and curve[50] == pytest.approx(0.01)
    assert curve[69] == pytest.approx(0.02 * (1 + math.cos(math.pi * 39 / 40)) / 2)


def test_sgdr_warmup_is_fastai_07() -> None:
    schedule, plain = SGDR(warmup=True), SGDR()
    spe = 40  # first cycle 40 iterations: warm-up for iterations 0, 1 (< 40 / 20)
    assert [schedule.multiplier(s, spe) for s in range(2)] == [0.01, 0.01]
    for step in range(2, 7 * spe):
        assert schedule.multiplier(step, spe) == plain.multiplier(step, spe)
    optimizer = _optimizer()
    schedule.attach(optimizer, spe)
    assert _rates(optimizer) == pytest.approx([lr / 100 for lr in BASE_RATES])


class FastaiCosAnneal:
    """Reference: fastai 0.7's ``CosAnneal`` (``fastai/sgdr.py``) as a state machine.

    ``LR_Updater.on_train_begin`` sets ``iteration = 0`` and calls ``calc_lr``; every
    ``on_batch_end`` increments ``iteration`` and calls ``calc_lr`` again, so the rate of batch
    ``i`` is the ``i``-th result. ``calc_lr``: while ``iteration < nb / 20`` return ``lr / 100``
    (``cycle_iter`` still counts); else ``lr / 2 * (cos(pi * cycle_iter / nb) + 1)``, then
    ``cycle_iter += 1`` and at ``cycle_iter == nb`` a restart: ``cycle_iter = 0``,
    ``nb *= cycle_mult``. ``nb`` starts at ``len(trn_dl) * cycle_len``.
    """

    def __init__(self, nb: int, cycle_mult: int) -> None:
        self.nb, self.cycle_mult = nb, cycle_mult
        self.iteration, self.cycle_iter = 0, 0

    def calc_lr(self, init_lr: float) -> float:
        if self.iteration < self.nb / 20:
            self.cycle_iter += 1
            return init_lr / 100.0
        cos_out = math.cos(math.pi * self.cycle_iter / self.nb) + 1
        self.cycle_iter += 1
        if self.cycle_iter == self.nb:
            self.cycle_iter = 0
            self.nb *= self.cycle_mult
        return init_lr / 2 * cos_out

    def rates(self, init_lr: float, steps: int) -> list[float]:
        out = [self.calc_lr(init_lr)]  # on_train_begin
        for _ in range(steps - 1):
            self.iteration += 1  # on_batch_end
            out.append(self.calc_lr(init_lr))
        return out


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 30), st.integers(1, 4), st.integers(2, 120))
def test_sgdr_with_warmup_equals_fastai_07_cos_anneal(cycle_len: int, cycle_mult: int, cycles: int,
                                                      spe: int) -> None:
    # fastai 0.7: learn.fit(lrs, cycles, cycle_len=cycle_len, cycle_mult=cycle_mult) with
    # len(trn_dl) = spe; every group's rate is its own base rate times the same factor.
    # (spe >= 2: with a one-iteration first cycle fastai's warm-up step skips the restart check
    # and its cosine never restarts, a corner no real data set reaches.)
    schedule = SGDR(cycle_len=cycle_len, cycle_mult=cycle_mult, cycles=min(cycles, 3), warmup=True)
    steps = min(schedule.epochs * spe, 1200)
    optimizer = _optimizer()
    ours = _trace(schedule.attach(optimizer, spe), optimizer, steps)
    for g, base in enumerate(BASE_RATES):
        expected = FastaiCosAnneal(cycle_len * spe, cycle_mult).rates(base, steps)
        got = [row[g] for row in ours]
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_sgdr_paper_schedule_equals_fastai_07() -> None:
    # The paper's run: 3 cycles of 1, 2, 4 epochs; HPA at 80 % of 31,072 samples, batch 64.
    spe = math.ceil(24_858 / 64)
    schedule = SGDR(cycle_len=1, cycle_mult=2, cycles=3, warmup=True)
    expected = FastaiCosAnneal(spe, 2).rates(0.02, 7 * spe)
    got = [0.02 * schedule.multiplier(step, spe) for step in range(7 * spe)]
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-18)
    assert sum(r == 0.02 / 100 for r in got) == math.ceil(spe / 20)  # 20 warm-up iterations


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.booleans(),
       st.integers(0, 5000), st.integers(1, 50))
def test_sgdr_multiplier_in_unit_interval(cycle_len: int, cycle_mult: int, cycles: int, warmup: bool,
                                          step: int, spe: int) -> None:
    value = SGDR(cycle_len, cycle_mult, cycles, warmup).multiplier(step, spe)
    assert math.isfinite(value) and 0.0 <= value <= 1.0


@pytest.mark.parametrize(("epochs", "spe", "pct_start", "div", "final_div"),
                         [(3, 10, 0.25, 25.0, 1e4), (2, 7, 0.3, 10.0, 100.0), (1, 16, 0.5, 25.0, 1e4)])
def test_one_cycle_equals_torch(epochs: int, spe: int, pct_start: float, div: float, final_div: float) -> None:
    schedule = OneCycle(epochs=epochs, pct_start=pct_start, div_factor=div, final_div_factor=final_div)
    steps = epochs * spe
    ours_opt, ref_opt = _optimizer(), _optimizer()
    ours = _trace(schedule.attach(ours_opt, spe), ours_opt, steps)
    ref = OneCycleLR(ref_opt, max_lr=list(BASE_RATES), total_steps=steps, pct_start=pct_start,
                     anneal_strategy="cos", cycle_momentum=False, div_factor=div,
                     final_div_factor=final_div, three_phase=False)
    expected = _trace(ref, ref_opt, steps)
    for step, (got, want) in enumerate(zip(ours, expected, strict=True)):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-18), f"step {step}"
    end = schedule.multiplier(steps - 1, spe)
    assert end == pytest.approx(1 / (div * final_div)) and schedule.multiplier(10 * steps, spe) == end


def test_constant_keeps_each_group_rate() -> None:
    optimizer = _optimizer(torch.optim.SGD)
    trace = _trace(Constant().attach(optimizer, 3), optimizer, 9)
    assert all(rates == list(BASE_RATES) for rates in trace)
    assert Constant().epochs is None and Constant(epochs=4).epochs == 4


def test_attach_state_dict_resumes() -> None:
    """A re-attached scheduler that loads the state continues at the same step."""
    schedule, spe = SGDR(), 6
    optimizer = _optimizer()
    scheduler = schedule.attach(optimizer, spe)
    _trace(scheduler, optimizer, 8)
    state = scheduler.state_dict()
    resumed_opt = _optimizer()
    resumed = schedule.attach(resumed_opt, spe)
    resumed.load_state_dict(state)
    resumed_opt.step()
    resumed.step()
    optimizer.step()
    scheduler.step()
    assert _rates(resumed_opt) == pytest.approx(_rates(optimizer))
    assert _rates(optimizer) == pytest.approx([lr * schedule.multiplier(9, spe) for lr in BASE_RATES])


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [(SGDR, {"cycle_len": 0}, "sgdr.*cycle_len"), (SGDR, {"cycle_mult": 1.5}, "cycle_mult"),
     (SGDR, {"warmup": "yes"}, "warmup"), (Constant, {"epochs": 0}, "constant.*epochs"),
     (OneCycle, {"epochs": 2, "pct_start": 1.0}, "pct_start"),
     (OneCycle, {"epochs": 2, "div_factor": 0.5}, "div_factor"), (OneCycle, {"epochs": None}, "epochs")],
)
def test_bad_parameters(factory: type, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


def test_bad_steps() -> None:
    with pytest.raises(ValueError, match="step must be >= 0"):
        SGDR().multiplier(-1, 4)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        SGDR().attach(_optimizer(), 0)


def test_plot_schedule_writes_figure(tmp_path: Path) -> None:
    path = plot_schedule(SGDR(), 20, tmp_path / "fig" / "sgdr.png", base_lr=0.02)
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="epochs="):
        plot_schedule(Constant(), 5, tmp_path / "c.png")
    assert plot_schedule(Constant(), 5, tmp_path / "c.svg", epochs=2).stat().st_size > 0


def test_plugin_specs() -> None:
    specs = {spec.name: spec.factory for spec in micro_bench_schedulers()}
    assert specs == {
        "sgdr": "micro_bench_schedulers.sgdr:SGDR",
        "constant": "micro_bench_schedulers.constant:Constant",
        "one_cycle": "micro_bench_schedulers.one_cycle:OneCycle",
    }


def test_plugin_module_imports_no_torch() -> None:
    code = "import sys, micro_bench_schedulers.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
