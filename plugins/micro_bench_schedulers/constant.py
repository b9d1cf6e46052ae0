"""The ``constant`` schedule: every group keeps its base rate (the paper's Table III runs)."""

from __future__ import annotations

from micro_bench_schedulers.base import MultiplierSchedule, check_int

__all__ = ["Constant"]


class Constant(MultiplierSchedule):
    """Multiplier 1 at every step.

    Args:
        epochs: optional length in epochs; ``None`` leaves it to the trainer's ``epochs``.
    """

    def __init__(self, epochs: int | None = None) -> None:
        self.epochs = None if epochs is None else check_int("constant", "epochs", epochs, minimum=1)

    def multiplier(self, step: int, steps_per_epoch: int) -> float:
        """Always ``1.0``."""
        self._check_step(step, steps_per_epoch)
        return 1.0

    def __repr__(self) -> str:
        return f"Constant(epochs={self.epochs})"
