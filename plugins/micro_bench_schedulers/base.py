"""What every bundled schedule shares: a pure multiplier of the step, attached with ``LambdaLR``."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from micro_bench.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = ["MultiplierSchedule", "check_int", "check_number"]


def check_int(schedule: str, key: str, value: object, *, minimum: int) -> int:
    """``value`` as an int ``>= minimum``, else a one-line ``ValueError`` naming schedule and key."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(f"scheduler {schedule!r}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def check_number(schedule: str, key: str, value: object, *, low: float, high: float = math.inf,
                 open_low: bool = False) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` if ``open_low``), else ``ValueError``."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value > low if open_low else value >= low)
        and value <= high
    )
    if not ok:
        bracket = "(" if open_low else "["
        raise ParameterError(
            f"scheduler {schedule!r}: {key} must be a number in {bracket}{low}, {high}], got {value!r}"
        )
    return float(value)  # type: ignore[arg-type]


class MultiplierSchedule(ABC):
    """A learning-rate schedule as a pure function of the global (0-based) iteration.

    Subclasses implement :meth:`multiplier`; :meth:`attach` turns it into a per-iteration torch
    scheduler that scales every parameter group's *own* base rate, so differential rates
    (``lr/10, lr/3, lr``) keep their ratios throughout.

    Attributes:
        epochs: how many epochs the schedule spans, or ``None`` if it has no length of its own.
    """

    epochs: int | None = None

    @abstractmethod
    def multiplier(self, step: int, steps_per_epoch: int) -> float:
        """Factor ``>= 0`` applied to each group's base rate at iteration ``step``."""

    def attach(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
        """A ``LambdaLR`` on ``optimizer``; call its ``step()`` once after every optimizer step.

        On creation the groups' rates are set to ``base * multiplier(0)``; after ``n`` calls of
        ``step()`` they are ``base * multiplier(n)``. Its ``state_dict()`` holds the step count,
        so a resumed run re-attaches and loads it.
        """
        from torch.optim.lr_scheduler import LambdaLR

        check_int(type(self).__name__, "steps_per_epoch", steps_per_epoch, minimum=1)
        return LambdaLR(optimizer, lr_lambda=lambda step: self.multiplier(step, steps_per_epoch))

    def total_steps(self, steps_per_epoch: int) -> int | None:
        """Iterations the schedule spans (``epochs * steps_per_epoch``), or ``None``."""
        return None if self.epochs is None else self.epochs * steps_per_epoch

    def _check_step(self, step: int, steps_per_epoch: int) -> None:
        if step < 0:
            raise ParameterError(f"{type(self).__name__}.multiplier: step must be >= 0, got {step}")
        if steps_per_epoch < 1:
            raise ParameterError(
                f"{type(self).__name__}.multiplier: steps_per_epoch must be >= 1, got {steps_per_epoch}"
            )
