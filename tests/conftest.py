"""Shared fixtures. The embedded dataset's cache goes to a per-session temp folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# No network in tests: a model hub download must fail at once, not retry for a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

TESTS = Path(__file__).parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))  # in-test plugin modules (toy_plugin)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    os.environ.setdefault("MICRO_BENCH_CACHE", str(tmp_path_factory.mktemp("mb-cache")))
    yield


@pytest.fixture
def toy_pm(monkeypatch):
    """A host with only the toy plugin and the bundled plugins that run and show a benchmark
    (``local``: the executor; ``tables``: table.md after ``run``; ``commands``: run, validate,
    list, plugins, verify); pass it to the CLI with ``obj=``."""
    import micro_bench_commands.plugin
    import micro_bench_local.plugin
    import micro_bench_tables.plugin
    import toy_plugin
    from micro_bench.host import Host

    monkeypatch.delenv("MICRO_BENCH_PLUGINS_DIR", raising=False)
    return Host.load(builtins=False, entrypoints=False, plugins=[toy_plugin, micro_bench_local.plugin, micro_bench_tables.plugin,
                                                                        micro_bench_commands.plugin])


@pytest.fixture
def toy_bench(tmp_path):
    """Write the shared toy benchmark (``toy_plugin.TOY_BENCH``, or a variant ``text``) and its
    ``ref.csv`` into ``tmp_path``; returns the benchmark file."""
    from toy_plugin import TOY_BENCH, TOY_REF

    def write(text: str = TOY_BENCH, name: str = "toy.yaml") -> Path:
        (tmp_path / "ref.csv").write_text(TOY_REF, encoding="utf-8")
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_yaml(tmp_path):
    def write(text: str, name: str = "bench.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
