"""The ``one_cycle`` schedule: Smith's one-cycle policy with cosine annealing.

The same curve as torch's ``OneCycleLR(max_lr=base, total_steps=epochs * steps_per_epoch,
pct_start, div_factor, final_div_factor, anneal_strategy="cos", three_phase=False,
cycle_momentum=False)``, expressed as a multiplier of each group's base rate (the peak): it rises
from ``1/div_factor`` to 1 over the first ``pct_start`` of the iterations, then falls to
``1/(div_factor * final_div_factor)``, and stays there past the end.
"""

from __future__ import annotations

import math

from micro_bench.errors import ParameterError
from micro_bench_schedulers.base import MultiplierSchedule, check_int, check_number

__all__ = ["OneCycle"]


def _cos_anneal(start: float, end: float, pct: float) -> float:
    """Cosine interpolation from ``start`` (``pct = 0``) to ``end`` (``pct = 1``), as torch's."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)


class OneCycle(MultiplierSchedule):
    """One cycle over ``epochs`` epochs, stepped per iteration.

    Args:
        epochs: the schedule's length in epochs (required: the cycle needs an end).
        pct_start: fraction of the iterations spent rising to the peak, in ``(0, 1)``.
        div_factor: the start rate is ``base / div_factor`` (``>= 1``).
        final_div_factor: the final rate is ``base / (div_factor * final_div_factor)`` (``>= 1``).
    """

    epochs: int

    def __init__(
        self, epochs: int, pct_start: float = 0.25, div_factor: float = 25.0, final_div_factor: float = 1e4
    ) -> None:
        self.epochs = check_int("one_cycle", "epochs", epochs, minimum=1)
        self.pct_start = check_number("one_cycle", "pct_start", pct_start, low=0.0, high=1.0, open_low=True)
        if self.pct_start >= 1.0:
            raise ParameterError(f"scheduler 'one_cycle': pct_start must be < 1, got {pct_start!r}")
        self.div_factor = check_number("one_cycle", "div_factor", div_factor, low=1.0)
        self.final_div_factor = check_number("one_cycle", "final_div_factor", final_div_factor, low=1.0)

    def multiplier(self, step: int, steps_per_epoch: int) -> float:
        """The one-cycle factor in ``(0, 1]`` at iteration ``step``."""
        self._check_step(step, steps_per_epoch)
        total = self.epochs * steps_per_epoch
        start = 1.0 / self.div_factor
        final = start / self.final_div_factor
        peak_step = self.pct_start * total - 1.0  # torch's end of phase one (a float)
        last_step = total - 1
        step = min(step, last_step)
        if step <= peak_step and peak_step > 0:
            return _cos_anneal(start, 1.0, step / peak_step)
        if last_step <= peak_step:
            return final
        return _cos_anneal(1.0, final, (step - peak_step) / (last_step - peak_step))

    def __repr__(self) -> str:
        return (
            f"OneCycle(epochs={self.epochs}, pct_start={self.pct_start}, "
            f"div_factor={self.div_factor}, final_div_factor={self.final_div_factor})"
        )
