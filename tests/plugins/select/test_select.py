"""Model selection for Table V: the best validation row of source benchmarks, evaluated on test
with its own trained model (no retraining)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from micro_bench.errors import ComponentError
from micro_bench_select.select import best_row


def _fixture(runs: Path, bench: str, rows: list[tuple[str, float]], split: str = "val") -> None:
    (runs / bench).mkdir(parents=True)
    index = {"benchmark": bench, "profile": None, "rows": []}
    for i, (label, value) in enumerate(rows):
        key = f"{bench}-{i:02d}"
        index["rows"].append({"label": label, "key": key})
        (runs / bench / key).mkdir()
        result = {"label": label, "metrics": {"f1_macro": value, "roc_auc_macro": 1 - value},
                  "config": {"evaluate": {"split": split, "threshold": 0.5}}}
        (runs / bench / key / "result.json").write_text(json.dumps(result))
    (runs / bench / "index.json").write_text(json.dumps(index))


def test_selection_picks_the_best_validation_row(tmp_path: Path) -> None:
    # Table I's rows as the paper reported them (validation macro F1): C = 0.1 wins.
    _fixture(tmp_path, "hpa_table1", [("0.1", 0.1125), ("0.5", 0.1078), ("1.0", 0.1064), ("10.0", 0.1034)])
    choice = best_row(tmp_path, ["hpa_table1"], "f1_macro")
    assert (choice["benchmark"], choice["label"], choice["value"]) == ("hpa_table1", "0.1", 0.1125)
    assert choice["directory"] == str(tmp_path / "hpa_table1" / "hpa_table1-00")
    assert [c["label"] for c in choice["candidates"]] == ["0.1", "0.5", "1.0", "10.0"]
    assert best_row(tmp_path, ["hpa_table1"], "roc_auc_macro")["label"] == "10.0"


def test_selection_across_benchmarks_and_ties(tmp_path: Path) -> None:
    # Tables III and IV compete for the ResNet row; the paper's best was BCE with SGDR.
    _fixture(tmp_path, "hpa_table3", [("BCE", 0.30), ("FL γ = 0.2", 0.33)])
    _fixture(tmp_path, "hpa_table4", [("BCE", 0.38), ("FL γ = 0.5", 0.38), ("FL γ = 2", 0.31)])
    choice = best_row(tmp_path, ["hpa_table3", "hpa_table4"], "f1_macro")
    assert (choice["benchmark"], choice["label"]) == ("hpa_table4", "BCE")  # a tie goes to the first row
    assert len(choice["candidates"]) == 5


def test_a_selected_run_without_weights_names_the_command_to_recompute_it(tmp_path: Path) -> None:
    from micro_bench import RunContext, Split
    from micro_bench_select.select import Selected, SelectTrainer

    _fixture(tmp_path / "runs", "hpa_table1", [("0.1", 0.2), ("1.0", 0.1)])
    (tmp_path / "runs" / "hpa_table1" / "hpa_table1-00" / "config.json").write_text(
        json.dumps({"dataset_fingerprint": "abc", "run": {"split": {}}}))
    dataset = type("D", (), {"fingerprint": "abc", "labels": np.zeros((2, 28), bool),
                             "split_indices": lambda self, part, **kw: np.arange(2)})()
    split = Split.of(dataset)
    ctx = RunContext(directory=tmp_path / "runs" / "hpa_table5" / "k", log=lambda s: None, progress=False)
    trainer = SelectTrainer("hpa_table1")
    with pytest.raises(ComponentError, match=r"row '0.1' of hpa_table1 has no loadable model .*"
                                             r"micro-bench run hpa_table1 --run '0.1' --force"):
        trainer.fit(Selected(28, 4), dataset, split, context=ctx)


def test_selection_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ComponentError, match="index.json is missing; run benchmark 'hpa_table2' first"):
        best_row(tmp_path, ["hpa_table2"], "f1_macro")
    _fixture(tmp_path, "hpa_table2", [("10 trees", 0.2)], split="test")
    with pytest.raises(ComponentError, match="no 'f1_macro' on the 'val' split"):
        best_row(tmp_path, ["hpa_table2"], "f1_macro")


@pytest.mark.slow
def test_select_row_runs_missing_sources_and_evaluates_the_chosen_model(tmp_path: Path) -> None:
    import micro_bench
    from micro_bench_predict import load_trained

    data = "dataset: {name: hpa_synth, n: 120, resolution: 16}\n" \
           "split: {method: multilabel_stratified, fractions: [0.6, 0.2, 0.2], seed: 0}\n"
    source = tmp_path / "src_bench.yaml"
    source.write_text(
        "version: 1\nname: src_bench\ntitle: source\nseed: 0\n" + data +
        "model: {name: logreg, C: 1.0}\ntrainer: {name: sklearn, n_jobs: 1, resolution: 16}\n"
        "loss: null\nscheduler: null\ntta: null\nevaluate: {split: val, threshold: 0.5}\n"
        "metrics: [f1_macro, f1_micro]\ntable: {kind: metrics}\n"
        "runs:\n  - {label: a, model: {C: 0.001}}\n  - {label: b, model: {C: 1.0}}\n"
        "  - {label: c, model: {C: 100.0}}\n", encoding="utf-8")
    select = tmp_path / "sel_bench.yaml"
    select.write_text(
        "version: 1\nname: sel_bench\ntitle: selected\nseed: 0\n" + data +
        f"model: {{name: selected}}\ntrainer: {{name: select, source: {source}, device: cpu}}\n"
        "loss: null\nscheduler: null\ntta: null\nevaluate: {split: test, threshold: 0.5}\n"
        "metrics: [f1_macro, per_class_f1]\ntable: {kind: metrics}\nruns:\n  - {label: best}\n",
        encoding="utf-8")
    runs = tmp_path / "runs"
    [result] = micro_bench.run(micro_bench.load_benchmark(select), runs, progress=False, echo=None)
    # The source benchmark was run first (its results were missing)...
    index = json.loads((runs / "src_bench" / "index.json").read_text())
    values = {r["label"]: json.loads((runs / "src_bench" / r["key"] / "result.json").read_text())["metrics"]["f1_macro"]
              for r in index["rows"]}
    chosen = result.history["selected"]
    assert chosen["label"] == max(values, key=values.get) and chosen["value"] == max(values.values())
    assert [c["label"] for c in result.history["candidates"]] == ["a", "b", "c"]
    # ... and the row's test scores are the chosen run's own model on the test split.
    from micro_bench import Split
    from micro_bench.host import Host

    ds = Host.load().registries["dataset"].create("hpa_synth", n=120, resolution=16)
    split = Split.of(ds, {"method": "multilabel_stratified", "fractions": [0.6, 0.2, 0.2], "seed": 0})
    expected = load_trained(chosen["directory"], device="cpu").predict_proba(np.asarray(ds.images(split.test)))
    got = np.load(Path(runs / "sel_bench" / result.key / "predictions.npz"))["y_score"]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    from micro_bench_tables.tables import build_table

    header = "\n".join(build_table(runs / "sel_bench").header)
    assert f"best: selected src_bench row '{chosen['label']}'" in header and "without retraining" in header
