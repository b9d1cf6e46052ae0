"""Atomic training checkpoints with everything a resumed run needs to continue identically."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from micro_bench_torch.errors import CheckpointError

__all__ = ["finalize_checkpoint", "load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]


def rng_state() -> dict[str, Any]:
    """The global RNG states of python, numpy, torch (and CUDA when present)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, then
    ``os.replace``, so a crash mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (on CPU), or ``None`` when there is none."""
    if not path.is_file():
        return None
    try:
        # Our own file: it holds numpy/python RNG states, which need full unpickling.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same advice
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(error).__name__}: {error}); delete it to "
            "restart the run from scratch"
        ) from error


def finalize_checkpoint(folder: Path) -> Path | None:
    """Shrink a finished run's ``last.pt`` (weights, optimizer, RNG: about 3x the model) to
    ``model.pt`` (the trained weights and the history). Written atomically before ``last.pt``
    is removed, so an interruption leaves one of the two intact. Returns ``model.pt`` or None."""
    last = Path(folder) / "last.pt"
    state = load_checkpoint(last)
    if state is None:
        return None
    final = save_checkpoint(Path(folder) / "model.pt", {
        "format": 1, "epoch": state["epoch"], "model": state["model"], "history": state["history"],
        "settings": state.get("settings"),
    })
    last.unlink()
    return final
