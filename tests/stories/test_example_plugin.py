"""The example third-party package (examples/micro-bench-asl) installed with pip into a temporary
target folder: micro-bench finds it through its entry point, lists it, checks it, and runs it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "micro-bench-asl"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pip") is None, reason="pip is not available to install examples/micro-bench-asl")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed example (package + ``micro_bench_asl-0.1.0.dist-info``)."""
    work = tmp_path_factory.mktemp("asl")
    source = work / "src"  # build from a copy: setuptools writes build/ and *.egg-info beside it
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "runs"))
    target = work / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    assert (target / "micro_bench_asl" / "loss.py").is_file()
    return target


def micro_bench(site: Path, *args: str, cwd: Path = ROOT, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m micro_bench ARGS`` with the installed example importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICRO_BENCH_")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "micro_bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_installed_distribution_has_the_entry_point(site):
    dist_info = next(site.glob("micro_bench_asl-0.1.0.dist-info"))
    entry_points = (dist_info / "entry_points.txt").read_text()
    assert "[micro_bench]" in entry_points and "asl = micro_bench_asl.plugin" in entry_points


def test_plugins_lists_it_with_distribution_and_version(site):
    done = micro_bench(site, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    infos = {info["name"]: info for info in json.loads(done.stdout)}
    assert infos["asl"]["distribution"] == "micro-bench-asl"
    assert infos["asl"]["version"] == "0.1.0"
    assert infos["asl"]["status"] == "ok" and infos["asl"]["module"] == "micro_bench_asl.plugin"
    text = micro_bench(site, "plugins").stdout
    assert any(line.split()[:4] == ["asl", "ok", "micro-bench-asl", "0.1.0"] for line in text.splitlines()), text


def test_list_loss_shows_asl_next_to_the_bundled_losses(site):
    done = micro_bench(site, "list", "loss")
    assert done.returncode == 0, done.stderr
    names = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert {"asl", "bce", "focal"} <= set(names)
    assert names["asl"].rstrip().endswith("[asl]")


@pytest.mark.slow
def test_check_plugin_passes(site):
    done = micro_bench(site, "check-plugin", "asl")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout and "asl" in done.stdout and "0 failed" in done.stdout


@pytest.mark.slow
def test_the_examples_own_tests_pass_against_the_installed_package(site):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICRO_BENCH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                          cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "passed" in done.stdout and "failed" not in done.stdout


def _needs_hpa_synth() -> None:
    if importlib.util.find_spec("micro_bench_hpa.synth.dataset") is None:
        pytest.skip("the bundled hpa_synth dataset (micro_bench_hpa.synth.dataset) is not there yet")


@pytest.mark.slow
def test_benchmark_validates(site):
    _needs_hpa_synth()
    done = micro_bench(site, "validate", str(EXAMPLE / "benchmarks" / "asl_vs_focal.yaml"), "--profile", "smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 runs" in done.stdout


@pytest.mark.slow
def test_smoke_benchmark_with_asl_runs(site, tmp_path):
    _needs_hpa_synth()
    bench = EXAMPLE / "benchmarks" / "asl_vs_focal.yaml"
    done = micro_bench(site, "run", str(bench), "--profile", "smoke", "--out", str(tmp_path), "--no-progress", timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = sorted((tmp_path / "asl_vs_focal").glob("*/result.json"))
    assert len(results) == 3
    by_loss = {json.loads((r.parent / "config.json").read_text())["run"]["loss"]["name"]: json.loads(r.read_text()) for r in results}
    assert set(by_loss) == {"bce", "focal", "asl"}
    for result in by_loss.values():
        assert 0.0 <= result["metrics"]["f1_macro"] <= 1.0
