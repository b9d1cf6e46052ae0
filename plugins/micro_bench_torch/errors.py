"""Errors of the torch trainer; their text is the one line the CLI prints."""

from __future__ import annotations

from micro_bench.errors import MicroBenchError

__all__ = ["CheckpointError", "TrainingDiverged"]


class TrainingDiverged(MicroBenchError, FloatingPointError):
    """The loss became NaN or infinite; the message names epoch, step, value and what to try."""


class CheckpointError(MicroBenchError, RuntimeError):
    """A checkpoint is unreadable or belongs to a different training setup."""
