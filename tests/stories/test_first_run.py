"""What a new user meets: the README's commands, the missing-store message, the docs' tables."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from micro_bench_commands.cli import cli

REPO = Path(__file__).resolve().parents[2]


def readme_command(tag: str) -> str:
    """The command on the line after ``<!-- ci:TAG -->`` (what .ci/run executes verbatim)."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- ci:{tag} -->")
    return next(line for line in lines[start + 1:] if line and not line.startswith("```"))


def test_ci_runs_the_readme_commands():
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "RUN_CMD=$(extract run)" in script and 'bash -euo pipefail -c "$RUN_CMD"' in script
    assert "TEST_CMD=$(extract test)" in script and 'bash -euo pipefail -c "$TEST_CMD"' in script


def test_readme_main_command_is_a_valid_benchmark(monkeypatch):
    command = readme_command("run")
    run_part = command.split("&&")[-1].strip()
    argv = shlex.split(run_part)
    assert argv[:2] == ["micro-bench", "run"]
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["validate", *argv[2:]])
    assert result.exit_code == 0, result.output
    assert re.search(r"OK \(9 runs: BCE, FL γ = 0.1, .*FL γ = 2\)", result.output)


def test_readme_test_command_runs_pytest():
    """The whole suite (no marker filter), on every core (pytest-xdist, in the test extra)."""
    command = readme_command("test")
    assert command.endswith("python -m pytest -n auto --dist worksteal")
    assert "pytest-xdist" in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_without_store_or_profile_it_stops_at_once_with_directions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(REPO / "benchmarks" / "hpa_table4.yaml"), "--out", "runs"])
    assert result.exit_code == 1
    error = result.output.strip().splitlines()[-1]
    assert error.startswith(f"Error: HPA store not found at {tmp_path / 'data' / 'hpa.zarr'}")
    assert "micro-bench data convert" in error and "--profile smoke" in error and "hpa_synth" in error
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("result.json"))


@pytest.mark.parametrize("results", sorted(p.name for p in (REPO / "benchmarks" / "results").iterdir()))
def test_docs_tables_match_what_the_command_regenerates(results, tmp_path):
    """docs/tables/<set>/ is `micro-bench tables benchmarks/results/<set> --out docs/tables/<set>`."""
    out = tmp_path / "tables"
    result = CliRunner().invoke(cli, ["tables", str(REPO / "benchmarks" / "results" / results), "--out", str(out)])
    assert result.exit_code == 0, result.output
    committed = REPO / "docs" / "tables" / results
    generated = sorted(p.name for p in out.iterdir())
    assert generated == sorted(p.name for p in committed.iterdir() if p.suffix in {".md", ".csv", ".tex"})
    for name in generated:
        assert (out / name).read_text(encoding="utf-8") == (committed / name).read_text(encoding="utf-8"), name
