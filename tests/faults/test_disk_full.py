"""Disk full on a small tmpfs (skipped where mounting one is not allowed): a clear message naming
the path and the space; what was written before stays valid and the work resumes."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from micro_bench_hpa.store import DONE, open_store
from micro_bench_hpa.synth.generate import write_png_layout
from micro_bench_torch.checkpoint import load_checkpoint, save_checkpoint
from micro_bench_torch.errors import CheckpointError

from .conftest import assert_user_error, invoke


def _mount(path: Path, size: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True,
                   capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path):
    path = Path("/tmp") / f"mb-tmpfs-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    try:
        _mount(path, "400k")
    except (OSError, subprocess.CalledProcessError) as exc:
        path.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {exc}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)
        path.rmdir()


def test_checkpoint_on_a_full_disk(tmpfs: Path) -> None:
    small = {"epoch": 1, "model": {"w": torch.zeros(10)}}
    save_checkpoint(tmpfs / "last.pt", small)
    with pytest.raises(CheckpointError, match=r"last.pt: no space left on device .*about 4.0 MB more needed"):
        save_checkpoint(tmpfs / "last.pt", {"epoch": 2, "model": {"w": torch.zeros(1_000_000)}})
    assert load_checkpoint(tmpfs / "last.pt")["epoch"] == 1  # the previous checkpoint is intact
    assert not list(tmpfs.glob("*.tmp"))


@pytest.mark.slow
def test_conversion_on_a_full_disk_resumes(tmpfs: Path, tmp_path: Path, monkeypatch) -> None:
    src = write_png_layout(tmp_path / "src", n=12, resolution=512, seed=0)
    dest = tmpfs / "d.zarr"
    args = ("data", "convert", str(src), str(dest), "--resolutions", "64", "--workers", "1", "--block-size", "2")
    result = invoke(*args)  # 12 x 4 x 64 x 64 = 196 KB of pixels: fits; fill the disk first
    assert result.exit_code == 0, result.output
    reference = {str(p.relative_to(dest)): p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
    shutil.rmtree(dest)
    (tmpfs / "ballast").write_bytes(b"\0" * 250_000)
    assert_user_error(invoke(*args), str(dest), "no space left on device", "more needed")
    import micro_bench_hpa.convert as convert_module  # the race: space taken after the check

    monkeypatch.setattr(convert_module, "_check_space", lambda *a: None)
    assert_user_error(invoke(*args), "no space left on device")
    status = open_store(dest)["status"][:]
    assert 0 < (status == DONE).sum() < 12  # some blocks written, each whole
    (tmpfs / "ballast").unlink()
    assert invoke(*args).exit_code == 0
    resumed = {str(p.relative_to(dest)): p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
    assert resumed == reference  # byte-identical to the uninterrupted conversion
    assert np.all(open_store(dest)["status"][:] == DONE)
