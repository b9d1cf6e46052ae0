"""The paper's numbers in benchmarks/reference/ parse, fit their YAML files and match spot values
read from the paper (Zhao & Tang, Tables I, II and V)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
METRIC_HEADER = ["label", "precision_macro", "recall_macro", "f1_macro", "roc_auc_macro", "precision_micro",
                 "recall_micro", "f1_micro", "roc_auc_micro", "hamming_loss"]


def _rows(name: str) -> list[dict[str, str]]:
    with (BENCH / "reference" / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _yaml(name: str) -> dict:
    return yaml.safe_load((BENCH / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("table", ["hpa_table1", "hpa_table2"])
def test_metric_tables_parse_and_labels_equal_yaml_runs(table: str) -> None:
    rows = _rows(f"{table}.csv")
    assert list(rows[0]) == METRIC_HEADER
    config = _yaml(f"{table}.yaml")
    assert [r["label"] for r in rows] == [run["label"] for run in config["runs"]]
    assert config["reference"] == f"reference/{table}.csv"
    assert config["metrics"] == METRIC_HEADER[1:]
    for row in rows:
        assert all(0.0 <= float(row[m]) <= 1.0 for m in METRIC_HEADER[1:])


def test_table1_spot_values() -> None:
    rows = {r["label"]: r for r in _rows("hpa_table1.csv")}
    assert [r for r in rows] == ["0.1", "0.5", "1.0", "10.0"]
    assert rows["0.1"]["f1_macro"] == "0.115414"
    assert rows["0.1"]["roc_auc_macro"] == "0.606289"
    assert rows["10.0"]["hamming_loss"] == "0.085682"
    assert rows["0.5"]["precision_micro"] == "0.275891"


def test_table2_spot_values() -> None:
    rows = {r["label"]: r for r in _rows("hpa_table2.csv")}
    assert rows["10 trees 1 min leaf size"]["f1_macro"] == "0.059083"
    assert rows["50 trees 10 min leaf size"]["roc_auc_macro"] == "0.644569"
    assert rows["100 trees 10 min leaf size"]["recall_micro"] == "0.097807"
    assert rows["100 trees 1 min leaf size"]["precision_macro"] == "0.234987"


def test_table5_long_format_and_spot_values() -> None:
    rows = _rows("hpa_table5.csv")
    assert list(rows[0]) == ["class", "label", "precision", "recall", "f1"]
    assert len(rows) == 28 * 3
    labels = [run["label"] for run in _yaml("hpa_table5.yaml")["runs"]]
    assert labels == ["LR", "RF", "BCE with SGDR"]
    assert {r["label"] for r in rows} == set(labels)
    assert sorted({int(r["class"]) for r in rows}) == list(range(28))
    by = {(int(r["class"]), r["label"]): r for r in rows}
    assert (by[0, "LR"]["precision"], by[0, "LR"]["recall"], by[0, "LR"]["f1"]) == ("0.44", "0.46", "0.45")
    assert by[0, "BCE with SGDR"]["recall"] == "0.92"
    assert by[24, "BCE with SGDR"]["precision"] == "1"
    assert by[13, "LR"]["precision"] == "0.29"
    assert by[25, "RF"]["f1"] == "0.44"
    for k in (8, 9, 10, 15, 20, 26, 27):  # "all three models failed to predict" these classes
        assert all(float(by[k, m][v]) == 0 for m in labels for v in ("precision", "recall", "f1"))


def test_table5_counts() -> None:
    rows = _rows("hpa_table5_counts.csv")
    assert list(rows[0]) == ["class", "test", "val", "train"]
    counts = {int(r["class"]): (int(r["test"]), int(r["val"]), int(r["train"])) for r in rows}
    assert sorted(counts) == list(range(28))
    assert counts[0] == (1267, 1265, 10353)
    assert counts[15] == (3, 1, 17)
    assert counts[27] == (1, 1, 9)
    # "the least common class 'Rods & ring' only occurs 11 times in the labeled data"
    assert sum(counts[27]) == 11


def test_smoke_profiles_use_the_synthetic_dataset() -> None:
    from micro_bench.config import load_config

    for table in ("hpa_table1", "hpa_table2", "hpa_table5"):
        config = load_config(BENCH / f"{table}.yaml", profile="smoke")
        for run in config.runs:
            assert run.dataset.name == "hpa_synth"
            # The baselines see the paper's 64 px; every row of a table shares one sample draw.
            if run.trainer.name == "sklearn":
                assert run.dataset.params["resolution"] == 64
            assert run.dataset.params["n"] == config.runs[0].dataset.params["n"]
