"""A pickle planted where a checkpoint is read must be refused, never executed."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from micro_bench_torch.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from micro_bench_torch.errors import CheckpointError


class _Payload:
    """Unpickling this calls ``Path.touch(marker)``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_planted_last_pt_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    last = tmp_path / "checkpoints" / "last.pt"
    last.parent.mkdir()
    torch.save({"epoch": 1, "model": _Payload(marker)}, last)  # torch's zip format with a pickle
    (tmp_path / "raw.pt").write_bytes(pickle.dumps(_Payload(marker)))  # a bare pickle
    for path in (last, tmp_path / "raw.pt"):
        with pytest.raises(CheckpointError, match=str(path.name)):
            load_checkpoint(path)
    assert not marker.exists()


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.gauss(0, 1), np.random.standard_normal()  # a cached gaussian in both
    save_checkpoint(tmp_path / "last.pt", {"rng": rng_state()})
    expected = (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(load_checkpoint(tmp_path / "last.pt")["rng"])  # type: ignore[index]
    assert (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()) == expected
