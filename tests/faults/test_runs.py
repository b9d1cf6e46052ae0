"""Run folders under faults: --force interrupted, verify [--fix], corrupt results, a failing
run_end / configure hook, two processes on one --out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import assert_user_error, invoke

BENCH = """\
version: 1
name: tiny
dataset: {{name: hpa_synth, n: 60, resolution: 16, cache_dir: {cache}}}
model: {{name: logreg, C: 0.1}}
trainer: {{name: sklearn, resolution: 16}}
split: {{fractions: [0.6, 0.2, 0.2]}}
evaluate: {{split: val, threshold: 0.5}}
metrics: [f1_macro, roc_auc_macro]
runs:
  - {{label: a}}
  - {{label: b, model: {{C: 1.0}}}}
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """One finished benchmark (2 runs), computed once per module."""
    root = tmp_path_factory.mktemp("finished")
    path = root / "tiny.yaml"
    path.write_text(BENCH.format(cache=root / "cache"))
    _run(path, root / "runs")
    return path, root / "runs"


@pytest.fixture
def bench(finished: tuple[Path, Path], tmp_path: Path) -> Path:
    """The benchmark file, with its finished results copied to ``tmp_path/runs``."""
    shutil.copytree(finished[1], tmp_path / "runs")
    return finished[0]


def _run(bench: Path, out: Path, *extra: str):
    result = invoke("run", str(bench), "--out", str(out), "--no-progress", *extra)
    assert result.exit_code == 0, result.output
    return result


def _finished(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((out / "tiny").glob("*/result.json"))}


@pytest.mark.slow
def test_interrupted_force_keeps_exactly_one_result(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    before = _finished(out)
    key = sorted(before)[0]
    run_dir = out / "tiny" / key
    backup = out / "tiny" / f".{key}.replaced"

    def interrupted_force() -> None:  # what kill -9 during a --force recompute leaves
        shutil.copytree(run_dir, backup) if not backup.exists() else None
        (run_dir / "result.json").unlink(missing_ok=True)
        (run_dir / "predictions.npz").unlink(missing_ok=True)

    interrupted_force()
    _run(bench, out)  # a plain rerun restores the finished result and reuses it
    assert _finished(out) == before and not backup.exists()
    interrupted_force()
    _run(bench, out, "--force")  # another --force: recomputes, one result, no backup left
    assert set(_finished(out)) == set(before) and not backup.exists()
    assert [r["metrics"] for r in _finished(out).values()] == [r["metrics"] for r in before.values()]
    before = _finished(out)
    interrupted_force()
    result = invoke("verify", str(out), "--fix")
    assert result.exit_code == 0 and "recovered" in result.output, result.output
    assert _finished(out) == before and not backup.exists()


@pytest.mark.slow
def test_verify_lists_leftovers_and_damaged_results(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    keys = sorted(_finished(out))
    assert invoke("verify", str(out)).output.strip().endswith("2 run folder(s) OK, 0 problem(s), 0 leftover(s)")
    a, b = (out / "tiny" / k for k in keys)
    (a / "checkpoints").mkdir(exist_ok=True)
    (a / "checkpoints" / "last.pt").write_bytes(b"x")
    (a / "model").mkdir(exist_ok=True)
    (a / "config.json.tmp").write_text("{")
    result = invoke("verify", str(out))
    assert result.exit_code == 0 and "2 leftover(s)" in result.output, result.output
    fixed = invoke("verify", str(out), "--fix")
    assert "2 fixed" in fixed.output and not (a / "checkpoints" / "last.pt").exists()
    config = json.loads((b / "config.json").read_text())
    config["run"]["seed"] = 99
    (b / "config.json").write_text(json.dumps(config))
    (a / "predictions.npz").unlink()
    result = invoke("verify", str(out))
    assert_user_error(result, "2 damaged result(s)")
    assert f"{b}: the hash of config.json" in result.output and f"{a}: predictions.npz missing" in result.output


@pytest.mark.slow
def test_corrupt_result_json_is_named(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    path = sorted((out / "tiny").glob("*/result.json"))[0]
    path.write_text('{"metrics": {"f1')
    assert_user_error(invoke("run", str(bench), "--out", str(out), "--no-progress"), str(path), "corrupt result file")
    assert_user_error(invoke("tables", str(out), "--out", str(tmp_path / "t")), str(path))
    assert_user_error(invoke("verify", str(out)), "1 damaged result(s)")
    index = out / "tiny" / "index.json"
    index.write_text("{")
    assert_user_error(invoke("tables", str(out), "--out", str(tmp_path / "t")), str(index), f"micro-bench verify {out}")


PLUGIN = '''
from micro_bench import hookimpl

@hookimpl
def micro_bench_run_end(run, result):
    raise RuntimeError("logger down")

@hookimpl
def micro_bench_configure(config):
    raise KeyError("oops")
'''


@pytest.mark.slow
def test_failing_hooks_are_isolated_and_the_run_finalises(bench: Path, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "bad_hooks.py").write_text(PLUGIN)
    out = tmp_path / "runs"
    for marker in (out / "tiny").glob("*/.finalised"):  # as if killed before finalising:
        marker.unlink()  # the next (cached) run fires run_end again
    result = invoke("--plugins-dir", str(plugins), "run", str(bench), "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "plugin 'bad_hooks': micro_bench_configure() raised KeyError" in result.output
    assert result.output.count("plugin 'bad_hooks': micro_bench_run_end() raised RuntimeError: logger down; ignored") == 2
    assert len(list((out / "tiny").glob("*/.finalised"))) == 2


def test_duplicate_component_disables_later_plugin_and_commands_work(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "dupe.py").write_text(
        "from micro_bench import ComponentSpec, hookimpl\n\n@hookimpl\ndef micro_bench_losses():\n"
        "    return [ComponentSpec('bce', 'builtins:dict', 'another bce')]\n")
    listing = invoke("--plugins-dir", str(plugins), "plugins")
    assert listing.exit_code == 0, listing.output
    assert "dupe" in listing.output and "disabled" in listing.output and "'micro_bench_losses' wins" in listing.output
    assert invoke("--plugins-dir", str(plugins), "list", "loss").exit_code == 0


@pytest.mark.slow
def test_two_processes_on_one_out_split_the_work(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "fresh"
    text = bench.read_text().replace("runs:\n", "runs:\n  - {label: c, model: {C: 0.5}}\n  - {label: d, model: {C: 2.0}}\n")
    bench = tmp_path / "four.yaml"
    bench.write_text(text.replace("name: tiny", "name: four"))
    cmd = [sys.executable, "-m", "micro_bench", "run", str(bench), "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert sum(o.count("finished '") for o in outputs) == 4, outputs  # 4 runs computed in all
    assert len(list((out / "four").glob("*/result.json"))) == 4 and not list((out / "four").glob(".*.replaced"))
    assert not list((out / "four" / ".locks").glob("*.owner"))


def test_empty_split_part_is_an_error_not_a_zero(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(BENCH.format(cache=tmp_path / "cache").replace("n: 60", "n: 8")
                    .replace("[0.6, 0.2, 0.2]", "[0.9, 0.05, 0.05]"))
    result = invoke("run", str(path), "--out", str(tmp_path / "runs"), "--no-progress")
    assert_user_error(result, "the val part of the split is empty", "evaluation needs it")
    assert not list((tmp_path / "runs").rglob("result.json"))
