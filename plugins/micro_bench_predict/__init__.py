"""micro-bench bundled plugin: predict on new images with a finished run's model.

Public API: :func:`load_trained` -> :class:`TrainedModel`, :func:`predict` (a DataFrame),
:func:`read_card`; the ``micro-bench predict`` command.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMAT_VERSION", "ModelCardError", "TrainedModel", "load_trained", "predict", "read_card"]

from micro_bench_predict.card import FORMAT_VERSION, ModelCardError, read_card


def __getattr__(name: str) -> Any:  # torch-importing parts load on first use
    if name in ("TrainedModel", "load_trained"):
        from micro_bench_predict import trained

        return getattr(trained, name)
    if name == "predict":
        from micro_bench_predict.api import predict

        return predict
    raise AttributeError(name)
