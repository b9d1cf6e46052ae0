"""The ``tensorboard`` logger: with ``micro-bench run --log tensorboard`` (or
``MICRO_BENCH_LOGGERS=tensorboard``) each computed run writes TensorBoard events into
``<run folder>/tensorboard/``: per-epoch scalars (``epoch/train_loss``, ``epoch/val_loss``,
``epoch/lr``, validation metrics when computed), the learning rate of every iteration
(``lr/iteration``), the final metrics (``final/<metric>``) and the run's figures as images.
``tensorboard --logdir runs`` shows every run. Needs ``pip install 'micro-bench[tensorboard]'``.

Imports only the standard library and micro_bench until a run starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from micro_bench_loggers.base import LibraryLogger, finite

__all__ = ["NAME", "TensorBoardLogger"]

NAME = "tensorboard"


class TensorBoardLogger(LibraryLogger):
    """One ``SummaryWriter`` per computed run, in ``<run folder>/tensorboard/``."""

    name, module, library = NAME, "tensorboard", "TensorBoard"

    def start(self, run: Any) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.session = SummaryWriter(log_dir=str(run.directory / "tensorboard"))

    def epoch(self, run: Any, epoch: int, metrics: Mapping[str, Any]) -> None:
        for key, value in finite(metrics).items():
            self.session.add_scalar(f"epoch/{key}", value, epoch)

    def end(self, run: Any, result: Any) -> None:
        import numpy as np
        from PIL import Image

        session, self.session = self.session, None
        try:
            for step, lr in enumerate(result.history.get("lr_iter") or []):
                session.add_scalar("lr/iteration", float(lr), step)
            for key, value in finite(result.metrics).items():
                session.add_scalar(f"final/{key}", value, 0)
            for png in sorted(run.directory.glob("*.png")):
                with Image.open(png) as image:
                    session.add_image(f"figures/{png.stem}", np.asarray(image.convert("RGB")), 0, dataformats="HWC")
        finally:
            session.close()


    def fail(self, run: Any, error: BaseException) -> None:
        """The run raised after ``start``: the writer is flushed and closed (the epochs logged stay)."""
        session, self.session = self.session, None
        if session is not None:
            session.close()
