"""Entry module of the ``tensorboard`` logger: with ``micro-bench run --log tensorboard`` (or
``MICRO_BENCH_LOGGERS=tensorboard``) each computed run writes TensorBoard events into
``<run folder>/tensorboard/``: per-epoch scalars (``epoch/train_loss``, ``epoch/val_loss``,
``epoch/lr``, validation metrics when computed), the learning rate of every iteration
(``lr/iteration``), the final metrics (``final/<metric>``) and the run's figures as images.
``tensorboard --logdir runs`` shows every run. Needs ``pip install 'micro-bench[tensorboard]'``.

Imports only the standard library and micro_bench until a run starts.
"""

from __future__ import annotations

import math
import os
from typing import Any

from micro_bench import hookimpl
from micro_bench.errors import ConfigError

__all__ = ["NAME", "enabled"]

NAME = "tensorboard"
_WRITERS: dict[str, Any] = {}


def enabled() -> bool:
    """Whether ``MICRO_BENCH_LOGGERS`` (set by ``run --log``) names this logger."""
    return NAME in {p.strip() for p in os.environ.get("MICRO_BENCH_LOGGERS", "").split(",")}


def _scalars(metrics: Any) -> dict[str, float]:
    out = {}
    for key, value in dict(metrics).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(value)
    return out


@hookimpl
def micro_bench_configure(config: Any) -> None:
    """Fail before any run starts when logging is asked for and the library is missing."""
    if not enabled():
        return
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError("--log tensorboard needs TensorBoard: pip install 'micro-bench[tensorboard]'") from None


@hookimpl
def micro_bench_run_start(run: Any) -> None:
    if not enabled():
        return
    from torch.utils.tensorboard import SummaryWriter

    _WRITERS[run.key] = SummaryWriter(log_dir=str(run.directory / "tensorboard"))


@hookimpl
def micro_bench_epoch_end(run: Any, epoch: int, metrics: Any) -> None:
    writer = _WRITERS.get(run.key)
    if writer is None:
        return
    for key, value in _scalars(metrics).items():
        writer.add_scalar(f"epoch/{key}", value, epoch)


@hookimpl(trylast=True)  # after the plugins that draw figures
def micro_bench_run_end(run: Any, result: Any) -> None:
    writer = _WRITERS.pop(run.key, None)
    if writer is None:
        return
    import numpy as np
    from PIL import Image

    try:
        for step, lr in enumerate(result.history.get("lr_iter") or []):
            writer.add_scalar("lr/iteration", float(lr), step)
        for key, value in _scalars(result.metrics).items():
            writer.add_scalar(f"final/{key}", value, 0)
        for png in sorted(run.directory.glob("*.png")):
            with Image.open(png) as image:
                writer.add_image(f"figures/{png.stem}", np.asarray(image.convert("RGB")), 0, dataformats="HWC")
    finally:
        writer.close()
