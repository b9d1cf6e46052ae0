"""``micro-bench export`` under fire (issue 28 items 1-2 of the rest): every option fuzzed (a bad value is
one line naming the option, a good one passes), output paths fuzzed over a tree holding a run, a
data store, files and folders, and kill -9 at several points of an export: the target is then
absent, the earlier export, or the new checked file, its ``.json`` (when present) describes it, and
a rerun succeeds and cleans what the killed one left."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micro_bench_export.export import (
    FORMATS,
    MAX_CHECK_SAMPLES,
    SUFFIX,
    ExportError,
    check_options,
    check_out,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _licence_known(text: str) -> bool:
    """The trusted oracle: bioimageio.spec's own SPDX id type."""
    from bioimageio.spec.model import v0_5 as bio

    try:
        bio.LicenseId(text)
    except ValueError:
        return False
    return True


_formats = st.one_of(st.sampled_from([*FORMATS, "ONNX", "keras", "", " onnx", "tflite"]), st.none(), st.integers(),
                     st.text(max_size=8))
_samples = st.one_of(st.integers(-3, MAX_CHECK_SAMPLES + 3), st.integers(), st.booleans(), st.none(),
                     st.floats(allow_nan=True), st.sampled_from(["16", "1e3"]))
_licences = st.one_of(st.none(), st.sampled_from(["CC-BY-4.0", "MIT", "BSD-3-Clause", "Apache-2.0", "GPL-3.0-only",
                                                  "NOT-A-LICENCE", "mit", "", "CC-BY-4.0 ", "MIT\n"]),
                      st.text(max_size=12), st.integers())


@FAST
@given(_formats, _samples, _licences)
def test_export_options_pass_or_name_the_option(fmt, samples, licence) -> None:
    """Every combination of --format, --check-samples and --license: accepted exactly when each is
    valid (the licence by bioimageio.spec's own type), else one line naming the first bad option."""
    fmt_ok = isinstance(fmt, str) and fmt in FORMATS
    samples_ok = type(samples) is int and 1 <= samples <= MAX_CHECK_SAMPLES
    licence_ok = licence is None or (isinstance(licence, str) and fmt == "bioimageio" and _licence_known(licence))
    try:
        check_options(fmt, samples, licence)
    except ExportError as error:
        message = str(error)
        assert "\n" not in message, message
        first_bad = "--format" if not fmt_ok else "--check-samples" if not samples_ok else "--license"
        assert message.startswith(first_bad + " "), (message, fmt, samples, licence)
        assert not (fmt_ok and samples_ok and licence_ok)
        return
    assert fmt_ok and samples_ok and licence_ok, (fmt, samples, licence)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder (inside a benchmark folder with index.json), a data store, a plain file, an
    empty folder, a read-only folder and a free folder."""
    root = tmp_path_factory.mktemp("tree")
    run = root / "runs" / "bench" / "abc123"
    (run / "model").mkdir(parents=True)
    (run / "result.json").write_text("{}")
    (run / "model" / "model.pt").write_bytes(b"weights")
    (root / "runs" / "bench" / "index.json").write_text("{}")
    (root / "store.zarr" / "images").mkdir(parents=True)
    (root / "store.zarr" / "zarr.json").write_text("{}")
    (root / "file.txt").write_text("x")
    (root / "folder").mkdir()
    (root / "locked").mkdir(mode=0o500)
    (root / "free").mkdir()
    (root / "free" / "taken.onnx.json").mkdir()  # a folder where the description would go
    return root


_parts = st.sampled_from(["runs", "bench", "abc123", "model", "model.pt", "store.zarr", "images", "file.txt",
                          "folder", "locked", "free", "new", "..", ".", "taken.onnx", "x" * 210])
_names = st.sampled_from(["m.onnx", "m.pt", "m.zip", "m.ONNX", "m", "m.json", "m.onnx.json", "", "taken.onnx"])


@FAST
@given(st.lists(_parts, max_size=4), _names, st.sampled_from(FORMATS))
def test_export_output_paths_are_checked(tree: Path, parts: list[str], name: str, fmt: str) -> None:
    """Any --out over the tree: refused in one line starting with ``--out``, or a path that is not a
    folder, not a run's file, not inside a results folder or store, has the format's suffix (or
    none of the others'), whose nearest existing folder is writable; nothing written either way."""
    before = sorted(str(p) for p in tree.rglob("*"))
    out = tree.joinpath(*parts, name) if name else tree.joinpath(*parts)
    run = tree / "runs" / "bench" / "abc123"
    try:
        got = check_out(out, run, fmt)
    except ExportError as error:
        assert str(error).startswith(f"--out {out}") and "\n" not in str(error), str(error)
    else:
        resolved = out.resolve()
        assert got == resolved and not resolved.is_dir()
        assert run not in [resolved, *resolved.parents] and tree / "runs" / "bench" not in resolved.parents
        assert tree / "store.zarr" not in resolved.parents
        assert resolved.suffix.lower() not in {s for f, s in SUFFIX.items() if s != SUFFIX[fmt]}
        assert fmt != "bioimageio" or resolved.suffix == ".zip"
        existing = next(p for p in resolved.parents if p.exists())
        assert existing.is_dir() and os.access(existing, os.W_OK)  # root may write in "locked"
        assert not resolved.with_name(resolved.name + ".json").is_dir()
    assert sorted(str(p) for p in tree.rglob("*")) == before


def test_export_cli_option_errors_are_one_line(tmp_path: Path) -> None:
    from .conftest import assert_user_error, invoke

    run = tmp_path / "run"
    run.mkdir()
    for args, needle in ((["--format", "bioimageio", "--license", "NOT-A-LICENCE"], "--license 'NOT-A-LICENCE'"),
                         (["--format", "onnx", "--license", "MIT"], "only a bioimageio package"),
                         (["--format", "onnx"], "not a finished run")):
        assert_user_error(invoke("export", str(run), *args), needle)
    for args in (["--format", "keras"], ["--format", "onnx", "--check-samples", "0"],
                 ["--format", "onnx", "--check-samples", "5000"], ["--format", "onnx", "--check-samples", "x"], []):
        result = invoke("export", str(run), *args)
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert result.exit_code == 2 and len(errors) == 1 and "Traceback" not in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# --- kill -9 --------------------------------------------------------------------------------------

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
CLI = [sys.executable, "-m", "micro_bench"]
BENCH = """
version: 1
name: tiny_export
seed: 3
dataset: {name: hpa_synth, n: 40, resolution: 32}
split: {method: multilabel_stratified, fractions: [0.5, 0.25, 0.25], seed: 0}
model: {name: "timm:resnet10t", pretrained: false}
trainer: {name: torch, batch_size: 8, lr: 0.01, freeze_epochs: 0, epochs: 1, device: cpu, threads: 1, epoch_metrics: []}
loss: bce
scheduler: null
tta: null
evaluate: {split: val, threshold: 0.5}
metrics: [f1_macro]
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from micro_bench.config import load_config
    from micro_bench.host import Host
    from micro_bench.runner import run_benchmark

    root = tmp_path_factory.mktemp("trained")
    (root / "bench.yaml").write_text(BENCH, encoding="utf-8")
    (result,) = run_benchmark(load_config(root / "bench.yaml"), root / "runs", host=Host.load(entrypoints=False),
                              echo=None, progress=False)
    return root / "runs" / "tiny_export" / result.key


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kill_when(cmd: list[str], ready: Callable[[], bool], timeout: float = 240) -> bool:
    """Start ``cmd``, SIGKILL it once ``ready()``; False if it finished first (point not reached)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            return False
        assert time.monotonic() < deadline, "kill point not reached"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def _state_is_sound(target: Path, load: Callable[[Path], None]) -> str:
    """The invariant after a kill: the target is absent or a complete file that loads; a ``.json``
    beside it describes it (same SHA-256, checked within the tolerance). Returns the state's name."""
    sidecar = target.with_name(target.name + ".json")
    if not target.exists():
        assert not sidecar.exists(), "a description without its file"
        return "absent"
    load(target)
    if not sidecar.exists():
        return "file, no description yet"
    record = json.loads(sidecar.read_text())
    assert record["sha256"] == _sha(target) and record["bytes"] == target.stat().st_size
    assert record["check"]["max_abs_diff"] <= record["check"]["tolerance"]
    return "complete"


def _parts(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.*"))


def _load_torchscript(path: Path) -> None:
    import torch

    module = torch.jit.load(str(path))
    with torch.no_grad():
        out = module(torch.zeros(2, 4, 32, 32)).numpy()
    assert out.shape == (2, 28) and np.isfinite(out).all()


def _load_onnx(path: Path) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"image": np.zeros((2, 4, 32, 32), np.float32)})[0]
    assert out.shape == (2, 28) and np.isfinite(out).all()


def _load_package(path: Path) -> None:
    from micro_bench_export.bioimageio import validate_package

    validate_package(path)


def _finish(cmd: list[str]) -> str:
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_torchscript_export_killed_at_many_points(trained: Path, tmp_path: Path) -> None:
    """kill -9 while the temporary file is created, while it is written and checked, once more over a
    finished export (an overwrite), then a rerun: never a partial file under the target's name."""
    target = tmp_path / "out" / "m.pt"
    cmd = [*CLI, "export", str(trained), "--format", "torchscript", "--out", str(target), "--check-samples", "4"]
    points: list[Callable[[], bool]] = [
        lambda: bool(_parts(target)),  # the temporary file exists (empty, or being traced into)
        lambda: any(p.stat().st_size > 0 for p in _parts(target) if p.exists()),  # written, being checked
    ]
    states = []
    for ready in points:
        reached = _kill_when(cmd, ready)
        states.append(_state_is_sound(target, _load_torchscript) if reached else "finished first")
    assert "absent" in states or "finished first" in states
    first = _finish(cmd)
    assert _state_is_sound(target, _load_torchscript) == "complete" and not _parts(target)
    assert ("replaced the earlier export" in first) == ("finished first" in states)
    before = _sha(target)
    if _kill_when(cmd, points[1]):  # an overwrite killed while checking: the earlier export stays whole
        assert _state_is_sound(target, _load_torchscript) == "complete" and _sha(target) == before
    again = _finish(cmd)
    assert "replaced the earlier export" in again and not _parts(target)
    assert _state_is_sound(target, _load_torchscript) == "complete"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "bioimageio"])
def test_onnx_and_package_exports_killed_mid_write(trained: Path, tmp_path: Path, fmt: str) -> None:
    """kill -9 while torch's ONNX exporter (or the package's writing and validation) runs, then a
    rerun: nothing under the target's name after the kill; a complete, checked export after."""
    target = tmp_path / ("m.onnx" if fmt == "onnx" else "m.zip")
    load = _load_onnx if fmt == "onnx" else _load_package
    cmd = [*CLI, "export", str(trained), "--format", fmt, "--out", str(target), "--check-samples", "2"]
    if fmt == "bioimageio":
        cmd += ["--license", "CC-BY-4.0"]
    assert _kill_when(cmd, lambda: bool(_parts(target)))
    assert _state_is_sound(target, load) == "absent" and _parts(target)  # the killed one's temporary file
    _finish(cmd)
    assert _state_is_sound(target, load) == "complete" and not _parts(target)  # cleaned by the rerun


@pytest.mark.slow
def test_export_refuses_a_card_whose_classes_differ_from_the_model(trained: Path, tmp_path: Path) -> None:
    """Found by the probe: a model.json whose class list was cut exported without a word, its
    description naming 1 class for a 28-output model."""
    from micro_bench_export.export import export_run

    run = Path(shutil.copytree(trained, tmp_path / "run"))
    card = run / "model" / "model.json"
    card.write_text(json.dumps({**json.loads(card.read_text()), "classes": ["x"]}))
    with pytest.raises(ExportError, match="model.json: lists 1 classes but the model gives 28 outputs per image"):
        export_run(run, "torchscript", tmp_path / "m.pt", check_samples=2)
    assert not (tmp_path / "m.pt").exists()
