"""kill -9 loops: conversion and training killed at several points, each time resumed by the same
command; the final store is byte-identical and the final results identical to uninterrupted ones,
and a killed ``data convert`` leaves no worker process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from micro_bench_hpa.synth.generate import write_png_layout

pytestmark = pytest.mark.slow
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
CLI = [sys.executable, "-m", "micro_bench"]


def _kill_when(cmd: list[str], ready: Callable[[], bool], timeout: float = 300) -> list[int]:
    """Start ``cmd``, SIGKILL it once ``ready()``; returns the pids of its children at that moment.
    Fails if the command finished before the kill point (the point was not reached)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"finished before the kill point: {proc.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, "kill point not reached"
        time.sleep(0.01)
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return children


def _finish(cmd: list[str]) -> str:
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return done.stdout


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _blocks_done(dest: Path) -> int:
    status = dest / "status" / "c"
    return len(list(status.iterdir())) if status.is_dir() else -1


def test_conversion_killed_at_many_points(tmp_path: Path) -> None:
    src = write_png_layout(tmp_path / "src", n=16, resolution=512, seed=3)
    args = ["data", "convert", str(src), "{dest}", "--resolutions", "64,32", "--block-size", "2", "--workers", "2"]
    reference = tmp_path / "ref.zarr"
    _finish(CLI + [a.format(dest=reference) for a in args])
    dest = tmp_path / "killed.zarr"
    cmd = CLI + [a.format(dest=dest) for a in args]
    points: list[Callable[[], bool]] = [
        lambda: any(tmp_path.glob(".killed.zarr.*.creating")),  # the first second: skeleton aside
        lambda: (dest / "zarr.json").is_file(),  # skeleton in place, nothing written
        *[(lambda k=k: _blocks_done(dest) >= k) for k in (1, 3, 5, 7)],  # k of 8 blocks written
    ]
    orphans = []
    for ready in points:
        children = _kill_when(cmd, ready)
        time.sleep(3)  # the workers notice their parent is gone within a second
        orphans += [(pid, psutil.Process(pid).cmdline()) for pid in children if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    _finish(cmd)
    assert not orphans, f"worker processes outlived the killed convert: {orphans}"
    assert _files(dest) == _files(reference)  # byte-identical, every file
    assert not list(tmp_path.glob(".killed.zarr.*.creating"))


BENCH = """\
version: 1
name: killme
seed: 1
dataset: {{name: hpa_synth, n: 48, resolution: 16, cache_dir: {cache}}}
split: {{fractions: [0.5, 0.25, 0.25]}}
model: {{name: resnet18_4ch, pretrained: false}}
trainer: {{name: torch, batch_size: 16, lr: 0.01, freeze_epochs: 1, epochs: 2, device: cpu, threads: 1}}
loss: bce
evaluate: {{split: val, threshold: 0.5}}
metrics: [f1_macro, roc_auc_macro, hamming_loss]
"""


def _result(out: Path) -> dict:
    (path,) = _runs(out, "result.json")
    data = json.loads(path.read_text())
    for key in ("timings",):
        data.pop(key)
    for key in ("seconds", "samples_per_s"):
        data["history"].pop(key, None)
    return data


def _runs(out: Path, name: str) -> list[Path]:
    """``name`` in the visible run folders (not in a ``.<key>.replaced`` one set aside by --force)."""
    return [p for p in (out / "killme").glob(f"*/{name}") if not p.parent.name.startswith(".")]


def _epochs_logged(out: Path) -> int:
    """Epochs finished by the latest attempt (a resumed attempt logs from where it resumed)."""
    epochs = [int(e) for log in _runs(out, "log.txt") for e in re.findall(r" epoch (\d+)/\d+: ", log.read_text())]
    return max(epochs, default=-1)


def test_training_killed_at_many_points(tmp_path: Path) -> None:
    bench = tmp_path / "killme.yaml"
    bench.write_text(BENCH.format(cache=tmp_path / "cache"))
    reference = tmp_path / "ref"
    _finish(CLI + ["run", str(bench), "--out", str(reference), "--no-progress"])
    out = tmp_path / "runs"
    cmd = CLI + ["run", str(bench), "--out", str(out), "--no-progress"]
    points: list[Callable[[], bool]] = [
        lambda: bool(_runs(out, "config.json")),  # started, no checkpoint yet
        *[(lambda k=k: _epochs_logged(out) >= k) for k in (1, 2)],  # after epoch k of 3
    ]
    for ready in points:
        _kill_when(cmd, ready)
    _finish(cmd)
    assert _result(out) == _result(reference)  # same metrics, thresholds, history
    # An interrupted --force, then a plain rerun: exactly the finished result, unchanged.
    before = _files(out / "killme")
    _kill_when(cmd + ["--force"], lambda: _epochs_logged(out) >= 1 and not _runs(out, "result.json"))
    _finish(cmd)
    after = _files(out / "killme")
    assert {k: v for k, v in after.items() if not k.startswith(".")} == {
        k: v for k, v in before.items() if not k.startswith(".") and k in after}
    assert not list((out / "killme").glob(".*.replaced"))
    assert len(list((out / "killme").glob("*/result.json"))) == 1


REPEATED = """\
version: 1
name: repeated
dataset: {name: hpa_synth, n: 40, resolution: 32}
model: {name: logreg, C: 0.1, solver: lbfgs}
trainer: {name: sklearn, n_jobs: 1, resolution: 8}
transform: null
repeats: 3
evaluate: {split: val, threshold: 0.5}
metrics: [f1_macro, roc_auc_macro]
runs:
  - {label: a}
"""


def test_repeated_benchmark_killed_between_repeats(tmp_path: Path) -> None:
    """kill -9 after the first repeat's result: the rerun keeps it, computes the rest, and ends
    with the same results and manifest rows as an uninterrupted run."""
    bench = tmp_path / "repeated.yaml"
    bench.write_text(REPEATED)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    _finish([*CLI, "run", str(bench), "--out", str(clean), "--no-progress"])
    _kill_when([*CLI, "run", str(bench), "--out", str(killed), "--no-progress"],
               lambda: len(list((killed / "repeated").glob("*/result.json"))) >= 1)
    kept = {p.parent.name for p in (killed / "repeated").glob("*/result.json")}
    assert 1 <= len(kept) < 3
    _finish([*CLI, "run", str(bench), "--out", str(killed), "--no-progress"])

    def results(out: Path) -> dict[str, dict]:
        return {p.parent.name: json.loads(p.read_text())["metrics"] for p in (out / "repeated").glob("*/result.json")}

    assert results(killed) == results(clean) and len(results(clean)) == 3
    rows = [json.loads((out / "repeated" / "index.json").read_text())["rows"] for out in (clean, killed)]
    assert rows[0] == rows[1]
    from .conftest import invoke

    verify = invoke("verify", str(killed))
    assert verify.exit_code == 0 and "3 run folder(s) OK, 0 problem(s)" in verify.output, verify.output
