"""kill -9 loop for the generic ``data convert`` (issue 28 item 10): a 5-channel 16-bit OME-Zarr
dataset with a missing image and an undecodable one, converted with ``--to-uint8 percentile`` on
two workers, killed at five points and resumed each time by the same command: the final store,
its report and manifest are byte-identical to an uninterrupted conversion, every data digest
agrees, ``data verify`` passes, and no worker outlives a kill."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from ..owndata import CHANNELS5, make_pixels, write_labels, write_ome_zarr
from .test_kill_loops import CLI, _blocks_done, _files, _finish, _kill_when

pytestmark = pytest.mark.slow


def _source(root: Path) -> tuple[Path, list[str]]:
    ids, labels, pixels = make_pixels(n=13, channels=5)
    root.mkdir(parents=True)
    write_labels(root / "labels.csv", ids, labels)
    write_ome_zarr(root / "images", ids[:12], pixels[:12], CHANNELS5)  # ids[12]: listed, no image
    image = root / "images" / f"{ids[5]}.ome.zarr"
    chunks = sorted(p for p in image.rglob("*") if p.is_file() and "c" in p.relative_to(image).parts)
    chunks[0].write_bytes(b"\x00garbage" * 8)  # ids[5]: metadata fine, pixels undecodable
    return root, ids


def _survivors(pids: list[int], wait: float = 3.0) -> list[tuple[int, list[str]]]:
    """The processes of ``pids`` still alive after ``wait`` seconds (the workers notice their
    parent is gone within a second)."""
    deadline = time.monotonic() + wait
    while True:
        alive = []
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append((pid, proc.cmdline()))
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_generic_conversion_killed_at_many_points(tmp_path: Path) -> None:
    src, ids = _source(tmp_path / "src")
    args = ["data", "convert", str(src / "images"), "{dest}", "--labels", str(src / "labels.csv"),
            "--id-column", "sample", "--label-column", "labels", "--separator", ";", "--pattern", "{id}.ome.zarr",
            "--to-uint8", "percentile", "--resolutions", "32,16", "--block-size", "2", "--workers", "2"]
    reference = tmp_path / "ref.zarr"
    _finish(CLI + [reference if a == "{dest}" else a for a in args])
    report = json.loads((reference / "convert_report.json").read_text())
    assert [(s["kind"], s["id"]) for s in report["skipped"]] == [("missing_channel", ids[12]), ("unreadable", ids[5])]
    assert (report["written"], report["skipped_after_decode"]) == (11, 1)
    dest = tmp_path / "killed.zarr"
    cmd = CLI + [dest if a == "{dest}" else a for a in args]
    points: list[Callable[[], bool]] = [
        lambda: any(tmp_path.glob(".killed.zarr.*.creating")),  # skeleton being made aside
        lambda: (dest / "zarr.json").is_file(),  # skeleton in place, nothing written
        *[(lambda k=k: _blocks_done(dest) >= k) for k in (1, 3, 5)],  # k of 6 blocks written
    ]
    orphans = []
    for ready in points:
        children = _kill_when(cmd, ready)
        orphans += _survivors(children)
    _finish(cmd)
    assert not orphans, f"worker processes outlived the killed convert: {orphans}"
    assert _files(dest) == _files(reference)  # byte-identical, every file (report and manifest included)
    assert not list(tmp_path.glob(".killed.zarr.*.creating"))
    verify = _finish(CLI + ["data", "verify", str(dest)])
    assert "OK (11 written samples match their digests)" in verify
