"""A stable sample of the hostile-user probe (``tools/probe.py``, issue 28): every 12th of its cases
that train nothing, each run as a user would and classified; none may end in a traceback, a silent
wrong result, a loss of something written earlier or a hang. The whole probe (``python
tools/probe.py --out report.json``) is run for a release's report, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_probe_sample_finds_nothing_bad(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "probe.py"), "--cheap", "--every", "12",
                           "--work", str(tmp_path / "w"), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=900)
    report = json.loads(out.read_text())
    bad = [(r["id"], r["outcome"], r.get("why", "")[:200]) for r in report["records"]
           if r["outcome"] in ("traceback", "silent_wrong", "loss", "hang", "probe_error")]
    assert not bad, bad
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert report["cases"] >= 80 and report["counts"].get("clean", 0) >= 0.9 * report["cases"], report["counts"]
    groups = {r["id"].split("/")[0] for r in report["records"]}
    assert {"validate", "convert", "verify", "predict", "results"} <= groups, groups
