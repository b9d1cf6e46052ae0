"""The project's own checks: ruff over everything, mypy over the core and the bundled plugins (as
configured in pyproject: ``files``, and the modules not typed yet)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the [test] extra")
def test_ruff_clean():
    proc = subprocess.run(["ruff", "check", "--quiet", "."], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # ~40 s cold on 2 cores; a few seconds with the cache of an earlier run
def test_mypy_core_and_plugins_clean():
    pytest.importorskip("mypy")
    cache = REPO / ".mypy_cache"  # gitignored; mypy's incremental cache is keyed by file contents
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
