"""The ``sgdr`` schedule: cosine annealing to 0 with warm restarts (Loshchilov & Hutter, 2017).

Cycle ``i`` (0-based) lasts ``cycle_len * cycle_mult**i`` epochs; inside it the multiplier is
``(1 + cos(pi * t / T_i)) / 2`` at iteration ``t`` of ``T_i``, annealing from 1 to 0 and then
restarting at 1. Without warm-up this is exactly torch's
``CosineAnnealingWarmRestarts(T_0=cycle_len * steps_per_epoch, T_mult=cycle_mult, eta_min=0)``
stepped once per iteration. The warm-up is fastai 0.7's ``CosAnneal`` (``fastai/sgdr.py``): the
multiplier is ``1/100`` while the global iteration is below ``1/20`` of the current cycle's
length (in practice the first 1/20 of the first cycle; later cycles only with ``cycle_mult`` >
20), the cosine position counting on underneath. With ``warmup: true`` this is the schedule fastai
0.7's ``learn.fit(lrs, 3, cycle_len=1, cycle_mult=2)`` ran, the paper's Fig. 4 (3 cycles,
``cycle_mult`` 2: 1 + 2 + 4 = 7 epochs).
"""

from __future__ import annotations

import math

from micro_bench_schedulers.base import MultiplierSchedule, check_int

__all__ = ["SGDR"]

WARMUP_FACTOR = 0.01
#: fastai's warm-up lasts while ``iteration < cycle length / WARMUP_DIVISOR``.
WARMUP_DIVISOR = 20


class SGDR(MultiplierSchedule):
    """Stochastic gradient descent with warm restarts, stepped per iteration.

    Args:
        cycle_len: epochs in the first cycle (``>= 1``).
        cycle_mult: factor by which each cycle is longer than the previous (``>= 1``).
        cycles: number of cycles; fixes :attr:`epochs` (``cycle_len * sum(cycle_mult**i)``).
        warmup: fastai 0.7's warm-up (``lr/100`` for the first 1/20 of the first cycle); the
            paper's benchmarks turn it on.

    Past the last cycle the restarts go on with the same rule (as torch's scheduler does).
    """

    def __init__(self, cycle_len: int = 1, cycle_mult: int = 2, cycles: int = 3, warmup: bool = False) -> None:
        self.cycle_len = check_int("sgdr", "cycle_len", cycle_len, minimum=1)
        self.cycle_mult = check_int("sgdr", "cycle_mult", cycle_mult, minimum=1)
        self.cycles = check_int("sgdr", "cycles", cycles, minimum=1)
        if not isinstance(warmup, bool):
            raise ValueError(f"scheduler 'sgdr': warmup must be true or false, got {warmup!r}")
        self.warmup = warmup
        self.epochs = self.cycle_len * sum(self.cycle_mult**i for i in range(self.cycles))

    def position(self, step: int, steps_per_epoch: int) -> tuple[int, int, int]:
        """``(cycle index, iteration within the cycle, cycle length in iterations)`` of ``step``."""
        self._check_step(step, steps_per_epoch)
        length = self.cycle_len * steps_per_epoch
        cycle = 0
        while step >= length:
            step -= length
            length *= self.cycle_mult
            cycle += 1
        return cycle, step, length

    def multiplier(self, step: int, steps_per_epoch: int) -> float:
        """``(1 + cos(pi * t / T_i)) / 2`` in ``[0, 1]``; ``0.01`` during the optional warm-up."""
        cycle, t, length = self.position(step, steps_per_epoch)
        if self.warmup and step * WARMUP_DIVISOR < length:  # fastai: iteration < nb / 20
            return WARMUP_FACTOR
        return (1.0 + math.cos(math.pi * t / length)) / 2.0

    def restarts(self, steps_per_epoch: int) -> list[int]:
        """Iterations at which a new cycle starts within :attr:`epochs` (first one excluded)."""
        starts, at, length = [], 0, self.cycle_len * steps_per_epoch
        for _ in range(self.cycles - 1):
            at += length
            length *= self.cycle_mult
            starts.append(at)
        return starts

    def __repr__(self) -> str:
        return (
            f"SGDR(cycle_len={self.cycle_len}, cycle_mult={self.cycle_mult}, "
            f"cycles={self.cycles}, warmup={self.warmup})"
        )
