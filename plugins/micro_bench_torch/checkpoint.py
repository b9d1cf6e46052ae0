"""Atomic training checkpoints with everything a resumed run needs to continue identically.

Checkpoints are read with ``torch.load(weights_only=True)``: only tensors and plain Python
containers/scalars are unpickled, so a planted file cannot run code. The RNG states are
therefore stored as tensors and plain data (see :func:`rng_state`), not as pickled objects.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from micro_bench_torch.errors import CheckpointError

__all__ = ["load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]


def rng_state() -> dict[str, Any]:
    """The global RNG states of python, numpy, torch (and CUDA when present), as tensors and
    plain data only (what ``weights_only`` loading accepts)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, then
    ``os.replace``, so a crash mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # Through a file object: torch.save names the zip's records after a path's file name, so
        # writing to the pid-stamped temporary path made the bytes (and their digest) differ by process.
        with open(tmp, "wb") as stream:
            torch.save(state, stream)
        os.replace(tmp, path)
    except (RuntimeError, OSError) as error:  # torch reports a full disk as "file write failed"
        from micro_bench_commands.failures import disk_full_message, free_bytes

        free = free_bytes(path.parent)
        full = isinstance(error, OSError) and error.errno == errno.ENOSPC or "write failed" in str(error)
        if full or (free is not None and free < 1 << 20):
            raise CheckpointError(disk_full_message(path, _state_bytes(state))) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _state_bytes(state: Any) -> int:
    """Bytes of the tensors in ``state`` (what a checkpoint needs on disk, roughly)."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(_state_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(_state_bytes(v) for v in state)
    return 0


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (on CPU), or ``None`` when there is none.

    Loaded with ``weights_only=True``: a file holding anything but tensors and plain data (a
    planted pickle, a checkpoint of an older micro-bench) is refused, never executed."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same advice
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CheckpointError(
            f"checkpoint {path} is unreadable or not a plain-tensor checkpoint "
            f"({type(error).__name__}: {first[:200]}); delete it to restart the run from scratch"
        ) from None
