"""Where and how tensors run: device, CPU threads, memory format, autocast, per-epoch seeds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from micro_bench.errors import ParameterError

__all__ = ["Runtime", "epoch_seed", "resolve_runtime"]


@dataclass(frozen=True)
class Runtime:
    """Resolved execution settings.

    Attributes:
        device: where the model and batches live.
        amp: bf16 autocast (CUDA only).
        channels_last: NHWC memory format for the model and its 4-D inputs.
        threads: intra-op CPU threads to use, or ``None`` to leave torch's setting alone.
    """

    device: torch.device
    amp: bool
    channels_last: bool
    threads: int | None

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """Move an image batch ``(B, C, H, W) float32`` to the device in the chosen layout."""
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def model(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move ``model`` to the device (and NHWC) in place; returns it."""
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """bf16 autocast on CUDA when ``amp``; a no-op otherwise."""
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def threads_set(self) -> Iterator[None]:
        """Apply :attr:`threads` for the duration of the block, then restore torch's previous count."""
        if self.threads is None or self.device.type != "cpu":
            yield
            return
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def resolve_runtime(
    device: str = "auto", amp: bool = True, channels_last: bool | str = "auto", threads: int | None = None
) -> Runtime:
    """Resolve the trainer's ``device``/``amp``/``channels_last``/``threads`` options.

    ``device="auto"``: CUDA (``cuda:$LOCAL_RANK`` under torchrun) when available, else CPU.
    ``channels_last="auto"``: on (NHWC is faster for ResNets both on CPU with oneDNN and on
    CUDA with bf16 tensor cores; see ``benchmarks/perf/trainer.py``).
    """
    import os

    if device == "auto":
        if torch.cuda.is_available():
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        else:
            device = "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError as error:
        raise ParameterError(f"trainer 'torch': device {device!r} is not a torch device ({error})") from error
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"trainer 'torch': device {device!r} asked for, but torch sees no CUDA GPU here; "
                             "use device: auto or cpu")
    if channels_last == "auto":
        channels_last = True
    if not isinstance(channels_last, bool):
        raise ParameterError(f"trainer 'torch': channels_last must be true, false or 'auto', got {channels_last!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ParameterError(f"trainer 'torch': threads must be a positive integer or null, got {threads!r}")
    return Runtime(dev, bool(amp) and dev.type == "cuda", channels_last, threads)


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` (0-based) of a run seeded ``seed``: shuffling,
    augmentation and dropout of an epoch depend only on these two numbers, which makes a
    resumed run repeat an uninterrupted one exactly."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(2, np.uint64)[0] >> np.uint64(1))
