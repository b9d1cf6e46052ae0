"""The first-run CLI details: `run --run LABEL`, reused rows and the time left, `tables` beside the
results, `--set` errors naming `--set`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import toy_plugin
from micro_bench.config import load_config
from micro_bench.errors import ConfigError
from micro_bench_commands.cli import cli
from micro_bench_commands.selection import merge_rows, select_runs
from toy_plugin import TOY_BENCH

BENCH = TOY_BENCH.replace("  - {label: noisy, model: {noise: 0.5}}\n",
                         "  - {label: noisy, model: {noise: 0.5}}\n  - {label: loud, model: {noise: 0.9}}\n")


@pytest.fixture
def bench(toy_bench):
    return toy_bench(BENCH)


def _run(host, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args, "--no-progress"], obj=host)
    return result.exit_code, result.output


def _rows(out) -> list[tuple[str, str]]:
    index = json.loads((out / "toybench" / "index.json").read_text())
    return [(r["label"], r["key"]) for r in index["rows"]]


def test_run_chosen_rows_keeps_the_others_in_the_table(bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    code, output = _run(toy_pm, str(bench), "--out", str(out))
    assert code == 0, output
    full = _rows(out)
    fits = toy_plugin.CALLS["fit"]
    code, output = _run(toy_pm, str(bench), "--out", str(out), "--run", "loud", "--run", "quiet", "--force")
    assert code == 0, output
    assert toy_plugin.CALLS["fit"] == fits + 2  # two rows recomputed, not three
    assert "2 of 3 run(s)" in output and "[run 1/2] quiet" in output and "[run 2/2] loud" in output
    assert _rows(out) == full  # same keys, file order, nothing dropped
    table = (out / "toybench" / "table.md").read_text()
    assert all(f"| {label} |" in table for label in ("quiet", "noisy", "loud"))


def test_run_only_on_a_fresh_folder_lists_only_what_ran(bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    code, output = _run(toy_pm, str(bench), "--out", str(out), "--run", "noisy")
    assert code == 0, output
    assert [label for label, _ in _rows(out)] == ["noisy"]


def test_unknown_run_label_is_one_line_naming_run(bench, tmp_path, toy_pm):
    code, output = _run(toy_pm, str(bench), "--out", str(tmp_path / "runs"), "--run", "nosy")
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        f"Error: --run 'nosy': {bench} has no row labelled 'nosy'; did you mean 'noisy'? "
        "Labels: quiet, noisy, loud")
    assert not (tmp_path / "runs").exists()


def test_merge_ignores_an_index_of_other_overrides(bench):
    config = load_config(bench)
    previous = {"benchmark": "toybench", "config_file": str(bench), "profile": None,
                "overrides": ["seed=1"], "rows": [{"label": "quiet", "key": "old"}]}
    current = {**previous, "overrides": [], "rows": [{"label": "loud", "key": "new"}]}
    assert merge_rows(config, previous, current)["rows"] == [{"label": "loud", "key": "new"}]
    same = {**previous, "overrides": []}
    assert merge_rows(config, same, current)["rows"] == [{"label": "quiet", "key": "old"},
                                                          {"label": "loud", "key": "new"}]
    with pytest.raises(ConfigError, match="no row labelled 'x'"):
        select_runs(config, ["x"])


def test_reused_rows_print_once_and_time_left_counts_rows_to_compute(bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    assert _run(toy_pm, str(bench), "--out", str(out), "--run", "quiet")[0] == 0
    code, output = _run(toy_pm, str(bench), "--out", str(out))
    assert code == 0, output
    lines = [line for line in output.splitlines() if line.startswith("[run ")]
    assert lines[0].startswith("[run 1/3] quiet: reused finished run ")
    assert sum("quiet" in line for line in lines) == 1
    # the first row computed has no history yet, so no estimate; the second has one
    assert lines[1] == "[run 2/3] noisy"
    assert lines[2].startswith("[run 3/3] loud, about ") and lines[2].endswith(" left")


def test_tables_writes_beside_the_results_by_default(bench, tmp_path, toy_pm, monkeypatch):
    out = tmp_path / "runs"
    assert _run(toy_pm, str(bench), "--out", str(out))[0] == 0
    table = out / "toybench" / "table.md"
    table.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli, ["tables", str(out)], obj=toy_pm)
    assert result.exit_code == 0, result.output
    assert table.is_file() and not list(elsewhere.iterdir())
    assert f"wrote {table}" in result.output


def test_a_run_with_overrides_keeps_the_table_of_the_benchmark_as_written(bench, tmp_path, toy_pm):
    from micro_bench.results import index_name

    out = tmp_path / "runs"
    assert _run(toy_pm, str(bench), "--out", str(out))[0] == 0
    folder = out / "toybench"
    before = {name: (folder / name).read_text() for name in ("index.json", "table.md", "table.csv", "table.tex")}
    code, output = _run(toy_pm, str(bench), "--out", str(out), "--set", "seed=5", "--set", "trainer.epochs=1")
    assert code == 0, output
    assert {name: (folder / name).read_text() for name in before} == before  # untouched
    name = index_name(["seed=5", "trainer.epochs=1"])
    assert name.startswith("index.set-") and name != index_name(["trainer.epochs=1", "seed=5"])
    index = json.loads((folder / name).read_text())
    assert index["overrides"] == ["seed=5", "trainer.epochs=1"] and len(index["rows"]) == 3
    assert {r["key"] for r in index["rows"]}.isdisjoint(r["key"] for r in json.loads(before["index.json"])["rows"])
    stem = name.replace("index", "table", 1).removesuffix(".json")
    table = (folder / f"{stem}.md").read_text()
    assert "Overrides: `seed=5` `trainer.epochs=1`" in table and f"{stem}.md" in output
    result = CliRunner().invoke(cli, ["tables", str(out), "--out", str(tmp_path / "t")], obj=toy_pm)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == sorted(
        f"toybench{suffix}.{fmt}" for suffix in ("", stem[len("table"):]) for fmt in ("md", "csv", "tex"))


@pytest.mark.parametrize(("expr", "expected"), [
    ("trainer.epochs=two", "Error: --set 'trainer.epochs=two' (on {bench}): trainer.epochs: expected int, got str 'two'"),
    ("model.nois=1", "Error: model 'prevalence' got unknown parameter 'nois' (--set 'model.nois=1' (on {bench}): runs[0].model)"),
    ("evaluate.threshold=3", "Error: --set 'evaluate.threshold=3' (on {bench}): evaluate.threshold: expected a number"),
])
def test_set_errors_name_the_set_not_the_file(bench, toy_pm, expr, expected):
    result = CliRunner().invoke(cli, ["validate", str(bench), "--set", expr], obj=toy_pm)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[0].startswith(expected.format(bench=bench)), result.output


def test_file_errors_still_name_the_file(bench, toy_pm):
    bench.write_text(BENCH.replace("model: prevalence", "model: {name: prevalence, nois: 1}"))
    result = CliRunner().invoke(cli, ["validate", str(bench), "--set", "seed=1"], obj=toy_pm)
    assert result.exit_code == 1
    assert f"({bench}: runs[0].model)" in result.output and "--set" not in result.output


SMOKE = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "smoke"


@pytest.mark.parametrize("bench_dir", sorted(p.parent for p in SMOKE.glob("*/index.json")), ids=lambda p: p.name)
def test_terminal_table_fits_100_columns_with_the_key_metrics(bench_dir):
    from micro_bench_tables.tables import build_table
    from micro_bench_tables.terminal import WIDTH, terminal_text

    table = build_table(bench_dir)
    text = terminal_text(bench_dir, table)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    index = json.loads((bench_dir / "index.json").read_text())
    first = table.rows[0][1]
    if index["table"]["kind"] == "per_class":
        names = index["dataset"]["class_names"]
        assert f"\n0 {names[0]} " in text and f"\n21 {names[21]} " in text
        results = {r["label"]: json.loads((bench_dir / r["key"] / "result.json").read_text())
                   for r in index["rows"]}
        assert "F1 (macro): " + " · ".join(f"{label} {res['metrics']['f1_macro']:.3f}"
                                            for label, res in results.items()) in text
    else:
        j = table.columns.index("F1 (macro)")
        c = first[j]
        shown = f"{c.ours:.{table.digits}f}" + (f" ±{(c.ci[1] - c.ci[0]) / 2:.{table.digits}f}" if c.ci else "")
        assert f"{shown} {c.delta:+.{table.digits}f}" in text.splitlines()[text.splitlines().index(
            next(line for line in text.splitlines() if line.startswith("Run "))) + 1]
