"""docs/data.md's local walk-through, command by command: synth PNGs -> convert -> split -> stats
-> a run on the store."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from micro_bench_commands.cli import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def walkthrough() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough -->\n```\n(.*?)```\n<!-- /walkthrough -->", text, re.S)
    assert block, "docs/data.md lost its walk-through block"
    commands = [shlex.split(line.split("#")[0]) for line in block.group(1).splitlines() if line.strip()]
    assert all(argv[0] == "micro-bench" for argv in commands)
    return [argv[1:] for argv in commands]


@pytest.mark.slow
def test_the_documented_walkthrough_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICRO_BENCH_CACHE", str(tmp_path / "cache"))
    outputs = []
    for argv in walkthrough():
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 0, (argv, result.output)
        outputs.append(result.output)
    assert len(list((tmp_path / "hpa_png" / "train").glob("*_green.png"))) == 48
    report = json.loads((tmp_path / "data" / "hpa.zarr" / "convert_report.json").read_text())
    assert report["written"] == 48
    from micro_bench.results import index_name

    sets = [argv[i + 1] for argv in walkthrough()[-1:] for i, arg in enumerate(argv) if arg == "--set"]
    index = json.loads((tmp_path / "runs" / "hpa_table1" / index_name(sets)).read_text())  # a run with --set
    assert [row["label"] for row in index["rows"]] == ["0.1"]
    assert index["dataset"]["name"] == "hpa_synth"  # converted from `data synth --png`: not HPA images
    assert index["dataset"]["stats_resolution"] == 256  # the store's largest, applied at 64 px
    # split and stats were made by their commands, so the run added nothing to the store
    assert "added the split" not in outputs[-1] and "added channel statistics" not in outputs[-1]
