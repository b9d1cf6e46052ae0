"""Packaging: bundled benchmarks by name (hook ``micro_bench_benchmarks``), what the wheel ships,
the single-sourced version, and dependencies declared for what the code imports."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import micro_bench
from micro_bench import hookimpl
from micro_bench.benchmarks import bundled_benchmarks, resolve_benchmark
from micro_bench.config import load_config
from micro_bench.errors import ConfigError, PluginError
from micro_bench.host import Host

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_bundled_benchmarks_are_the_paper_tables_with_titles():
    entries = bundled_benchmarks(Host.load(entrypoints=False))
    assert sorted(entries) == ["hpa_beyond", *(f"hpa_table{i}" for i in range(1, 6))]
    assert entries.pop("hpa_beyond").title.startswith("Beyond the paper")
    for i, (name, entry) in enumerate(entries.items(), start=1):
        assert entry.plugin == "micro_bench_hpa"
        assert entry.title.startswith(f"Table {['I', 'II', 'III', 'IV', 'V'][i - 1]}:")
        config = load_config(entry.path, profile="smoke")
        assert config.name == name
        assert config.reference is not None and config.reference.is_file()


def test_run_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pm = Host.load(entrypoints=False)
    path = resolve_benchmark("hpa_table4", pm)
    assert path.is_file() and load_config(path).name == "hpa_table4"
    assert resolve_benchmark("hpa_table4.yaml", pm) == path  # a missing file named like a bundled one
    own = tmp_path / "hpa_table4"
    own.write_text("version: 1\n", encoding="utf-8")
    assert resolve_benchmark("hpa_table4", pm) == Path("hpa_table4")  # an existing path wins


def test_unknown_name_suggests_the_closest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"'hpa_tabel4'.*Did you mean 'hpa_table4'"):
        resolve_benchmark("hpa_tabel4", Host.load(entrypoints=False))


def _benchmark_plugin(path: Path) -> types.ModuleType:
    plugin = types.ModuleType("third_party_benchmarks")

    @hookimpl
    def micro_bench_benchmarks():
        return [path]

    plugin.micro_bench_benchmarks = micro_bench_benchmarks  # type: ignore[attr-defined]
    return plugin


def test_a_third_party_plugin_ships_a_benchmark(tmp_path):
    bench = tmp_path / "cells.yaml"
    bench.write_text("version: 1\nname: my_cells\ntitle: My screen\n", encoding="utf-8")
    pm = Host.load(entrypoints=False, plugins=[_benchmark_plugin(bench)])
    entry = bundled_benchmarks(pm)["my_cells"]
    assert (entry.title, entry.path, entry.plugin) == ("My screen", bench, "third_party_benchmarks")
    clash = tmp_path / "clash.yaml"
    clash.write_text("version: 1\nname: hpa_table1\n", encoding="utf-8")
    pm = Host.load(entrypoints=False, plugins=[_benchmark_plugin(clash)])
    # the one duplicate policy: the plugin registered first keeps the name, the other is reported
    assert bundled_benchmarks(pm)["hpa_table1"].plugin == "micro_bench_hpa"
    assert any("duplicate benchmark 'hpa_table1'" in message and plugin == "third_party_benchmarks"
               for plugin, message in pm.problems)
    pm._strict = True
    with pytest.raises(PluginError, match="duplicate benchmark 'hpa_table1'"):
        bundled_benchmarks(pm)


@pytest.mark.slow
def test_cli_lists_and_validates_bundled_benchmarks(tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from micro_bench_commands.cli import main; main()", *args],
                              cwd=tmp_path, capture_output=True, text=True, check=False)

    listed = cli("list", "benchmark")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"hpa_table4\s+Table IV: BCE and focal loss", listed.stdout)
    validated = cli("validate", "hpa_table1", "--profile", "smoke")
    assert validated.returncode == 0 and validated.stdout.startswith("hpa_table1: OK"), validated.stderr


def test_wheel_ships_every_benchmark_and_reference():
    include = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    for path in sorted((REPO / "benchmarks").glob("hpa_table*.yaml")):
        rel = f"benchmarks/{path.name}"
        assert include.get(rel) == f"micro_bench_hpa/benchmarks/{path.name}", f"{rel} not in the wheel"
    assert include["benchmarks/reference"] == "micro_bench_hpa/benchmarks/reference"
    assert (REPO / "src/micro_bench/py.typed").is_file()


def test_version_is_single_sourced():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/micro_bench/_version.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", micro_bench.__version__)


def _requirement_names(reqs: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in reqs}


def test_dependencies_match_imports():
    """Every third-party module the packages import at any depth is declared (core or an extra),
    and nothing is declared that the code does not use."""
    project = PYPROJECT["project"]
    core = _requirement_names(project["dependencies"])
    extras = set().union(*(_requirement_names(v) for v in project["optional-dependencies"].values()))
    module_of = {"pyyaml": "yaml", "pillow": "PIL", "scikit-learn": "sklearn", "google-crc32c": "google_crc32c",
                 "mlflow-skinny": "mlflow", "dask": "dask",
                 "bioimageio.spec": "bioimageio"}
    imported: set[str] = set()
    for folder in ("src", "plugins"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    stdlib = set(sys.stdlib_module_names) | {"micro_bench"} | {p.name for p in (REPO / "plugins").iterdir()}
    # Used only when installed, behind `except ImportError` (the dask executor's GPU cluster);
    # fsspec (zarr, dask) and huggingface_hub (timm) come with the packages that need them.
    optional = {"dask_cuda", "fsspec", "huggingface_hub"}
    third_party = {m for m in imported if m not in stdlib} - optional
    declared = {module_of.get(name, name.replace("-", "_")) for name in core | extras}
    assert third_party - declared == set(), "imported but not declared"
    # scipy: the synth generator's blur moves to scipy.ndimage (issue 14, landing separately).
    unused = {d for d in core - {"scipy"} if module_of.get(d, d.replace("-", "_")) not in third_party}
    assert unused == set(), "declared but never imported"
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
