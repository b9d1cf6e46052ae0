"""Entry module of the ``tensorboard`` logger: with ``micro-bench run --log tensorboard`` (or
``MICRO_BENCH_LOGGERS=tensorboard``) each computed run writes TensorBoard events into
``<run folder>/tensorboard/``: per-epoch scalars (``epoch/train_loss``, ``epoch/val_loss``,
``epoch/lr``, validation metrics when computed), the learning rate of every iteration
(``lr/iteration``), the final metrics (``final/<metric>``) and the run's figures as images.
``tensorboard --logdir runs`` shows every run. Needs ``pip install 'micro-bench[tensorboard]'``.

Imports only the standard library and micro_bench until a run starts.
"""

from __future__ import annotations

from typing import Any

from micro_bench import hookimpl
from micro_bench_report.loggers import RunLogger, finite

__all__ = ["LOGGER", "NAME", "enabled"]

NAME = "tensorboard"
LOGGER = RunLogger(NAME, "tensorboard", "TensorBoard")
enabled = LOGGER.enabled
micro_bench_configure = LOGGER.micro_bench_configure  # the library is there before any run


@hookimpl
def micro_bench_run_start(run: Any) -> None:
    if not enabled():
        return
    from torch.utils.tensorboard import SummaryWriter

    LOGGER.sessions[run.key] = SummaryWriter(log_dir=str(run.directory / "tensorboard"))


@hookimpl
def micro_bench_epoch_end(run: Any, epoch: int, metrics: Any) -> None:
    writer = LOGGER.sessions.get(run.key)
    if writer is None:
        return
    for key, value in finite(metrics).items():
        writer.add_scalar(f"epoch/{key}", value, epoch)


@hookimpl(trylast=True)  # after the plugins that draw figures
def micro_bench_run_end(run: Any, result: Any) -> None:
    writer = LOGGER.sessions.pop(run.key, None)
    if writer is None:
        return
    import numpy as np
    from PIL import Image

    try:
        for step, lr in enumerate(result.history.get("lr_iter") or []):
            writer.add_scalar("lr/iteration", float(lr), step)
        for key, value in finite(result.metrics).items():
            writer.add_scalar(f"final/{key}", value, 0)
        for png in sorted(run.directory.glob("*.png")):
            with Image.open(png) as image:
                writer.add_image(f"figures/{png.stem}", np.asarray(image.convert("RGB")), 0, dataformats="HWC")
    finally:
        writer.close()
