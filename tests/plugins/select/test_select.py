"""Model selection for Table V: the best validation row of source benchmarks, evaluated on test
with its own trained model (no retraining)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from micro_bench.errors import ComponentError
from micro_bench_select.select import best_row


def _fixture(runs: Path, bench: str, rows: list[tuple[str, float | list[float]]], split: str = "val") -> None:
    """A finished benchmark folder: a row's value, or its repeats' values (seeds 0, 1, ...)."""
    (runs / bench).mkdir(parents=True)
    index: dict = {"benchmark": bench, "profile": None, "rows": []}
    for i, (label, value) in enumerate(rows):
        values = value if isinstance(value, list) else [value]
        keys = [f"{bench}-{i:02d}" + (f"-s{seed}" if isinstance(value, list) else "") for seed in range(len(values))]
        index["rows"].append({"label": label, "key": keys[0], **({"repeats": keys} if len(keys) > 1 else {})})
        for seed, (key, v) in enumerate(zip(keys, values, strict=True)):
            (runs / bench / key).mkdir()
            result = {"label": label, "metrics": {"f1_macro": v, "roc_auc_macro": 1 - v},
                      "config": {"seed": seed, "evaluate": {"split": split, "threshold": 0.5}}}
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


def test_a_row_with_repeats_competes_with_its_mean_and_the_repeat_of_the_seed_is_evaluated(tmp_path: Path) -> None:
    # Repeat 0 of "lucky" is the best single value (0.30), but its mean over three seeds is lower
    # than "steady"'s: the row is chosen by the mean, never by repeat 0.
    lucky, steady = [0.30, 0.10, 0.11], [0.20, 0.21, 0.19]
    _fixture(tmp_path, "hpa_table4", [("lucky", lucky), ("steady", steady), ("single", 0.195)])
    choice = best_row(tmp_path, ["hpa_table4"], "f1_macro")
    assert choice["label"] == "steady"
    assert choice["value"] == pytest.approx(float(np.mean(steady)), abs=1e-15)
    assert choice["values"] == steady and choice["seeds"] == [0, 1, 2] and choice["repeats"] == 3
    assert (choice["repeat"], choice["seed"], choice["key"]) == (0, 0, "hpa_table4-01-s0")
    by_label = {c["label"]: c for c in choice["candidates"]}
    assert by_label["lucky"]["value"] == pytest.approx(float(np.mean(lucky)), abs=1e-15)
    assert by_label["single"]["values"] == [0.195] and by_label["single"]["keys"] == ["hpa_table4-02"]
    # The select run with seed 2 evaluates the chosen row's repeat trained with seed 2.
    second = best_row(tmp_path, ["hpa_table4"], "f1_macro", seed=2)
    assert (second["label"], second["repeat"], second["key"]) == ("steady", 2, "hpa_table4-01-s2")
    assert second["directory"] == str(tmp_path / "hpa_table4" / "hpa_table4-01-s2")
    # No repeat with this seed: one line naming the seeds there are and the fix.
    with pytest.raises(ComponentError, match=r"row 'steady' of hpa_table4 has 3 repeats trained with seeds "
                                             r"0, 1, 2, none with this run's seed 7; give the select row "
                                             r"seed: 0 and repeats: 3"):
        best_row(tmp_path, ["hpa_table4"], "f1_macro", seed=7)


def test_a_chosen_row_with_one_run_is_evaluated_whatever_the_seed(tmp_path: Path) -> None:
    _fixture(tmp_path, "hpa_table2", [("10 trees", 0.2), ("50 trees", [0.1, 0.12])])
    choice = best_row(tmp_path, ["hpa_table2"], "f1_macro", seed=5)
    assert (choice["label"], choice["key"], choice["repeats"], choice["seed"]) == ("10 trees", "hpa_table2-00", 1, 0)


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
        "runs:\n  - {label: a, model: {C: 0.001}}\n"
        "  - {label: b, model: {name: random_forest, n_estimators: 1, min_samples_leaf: 1}, repeats: 2}\n"
        "  - {label: c, model: {C: 0.003}}\n", encoding="utf-8")
    select = tmp_path / "sel_bench.yaml"
    select.write_text(
        "version: 1\nname: sel_bench\ntitle: selected\nseed: 0\n" + data +
        f"model: {{name: selected}}\ntrainer: {{name: select, source: {source}, device: cpu}}\n"
        "loss: null\nscheduler: null\ntta: null\nevaluate: {split: test, threshold: 0.5}\n"
        "metrics: [f1_macro, per_class_f1]\ntable: {kind: metrics}\nruns:\n  - {label: best, repeats: 2}\n",
        encoding="utf-8")
    runs = tmp_path / "runs"
    results = micro_bench.run(micro_bench.load_benchmark(select), runs, progress=False, echo=None)
    assert [r.config["seed"] for r in results] == [0, 1]
    # The source benchmark was run first (its results were missing)...
    index = json.loads((runs / "src_bench" / "index.json").read_text())
    runs_of = {r["label"]: r.get("repeats") or [r["key"]] for r in index["rows"]}
    assert [len(runs_of[label]) for label in "abc"] == [1, 2, 1]
    values = {label: [json.loads((runs / "src_bench" / k / "result.json").read_text())["metrics"]["f1_macro"] for k in keys]
              for label, keys in runs_of.items()}
    assert values["b"][0] != values["b"][1]  # the two seeds' forests differ
    means = {label: float(np.mean(v)) for label, v in values.items()}
    # ... the row with the best mean over its repeats was chosen by both repeats of the select row ...
    for result in results:
        chosen = result.history["selected"]
        assert chosen["label"] == max(means, key=means.__getitem__) and chosen["value"] == max(means.values())
        assert [c["label"] for c in result.history["candidates"]] == ["a", "b", "c"]
        assert result.history["candidates"][1]["values"] == values["b"]
    # ... and each repeat's test scores are the chosen row's model trained with its seed, on the test split.
    from micro_bench import Split
    from micro_bench.host import Host

    ds = Host.load().registries["dataset"].create("hpa_synth", n=120, resolution=16)
    split = Split.of(ds, {"method": "multilabel_stratified", "fractions": [0.6, 0.2, 0.2], "seed": 0})
    assert results[0].history["selected"]["label"] == "b"  # so each select repeat evaluates its own seed's forest
    chosen_keys = runs_of["b"]
    for seed, result in enumerate(results):
        key = chosen_keys[seed]
        assert result.history["selected"]["key"] == key
        expected = load_trained(runs / "src_bench" / key, device="cpu").predict_proba(np.asarray(ds.images(split.test)))
        got = np.load(Path(runs / "sel_bench" / result.key / "predictions.npz"))["y_score"]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    from micro_bench_tables.tables import build_table

    header = "\n".join(build_table(runs / "sel_bench").header)
    assert f"best: selected src_bench row '{results[0].history['selected']['label']}'" in header
    assert "without retraining" in header


def test_table_header_says_which_runs_of_a_selected_row_with_repeats_were_evaluated(tmp_path: Path) -> None:
    # Source rows with repeats, chosen by their mean; three select rows: with as many repeats as the
    # chosen row (one evaluated run per seed), with one run (the seed-0 repeat only), and with two
    # repeats over a chosen row that has one run (both evaluated it: sd 0 by construction).
    from micro_bench.results import RunResult
    from micro_bench_tables.tables import _selections

    _fixture(tmp_path, "hpa_table4", [("BCE", [0.30, 0.28, 0.29]), ("FL", [0.31, 0.20, 0.22])])
    _fixture(tmp_path, "hpa_table2", [("10 trees", 0.2)])

    def history(sources: list[str], seed: int) -> dict:
        choice = best_row(tmp_path, sources, "f1_macro", seed=seed)
        return {"selected": {k: v for k, v in choice.items() if k != "candidates"}, "candidates": choice["candidates"],
                "metric": "f1_macro", "split": "val", "sources": sources}

    rows, results = [], {}
    for label, sources, seeds in (("all", ["hpa_table4"], [0, 1, 2]), ("first", ["hpa_table4"], [0]),
                                  ("RF", ["hpa_table2"], [0, 1])):
        keys = [f"{label}-{seed}" for seed in seeds]
        rows.append({"label": label, "key": keys[0], **({"repeats": keys} if len(keys) > 1 else {})})
        for key, seed in zip(keys, seeds, strict=True):
            results[key] = RunResult("hpa_table5", label, key, {}, history=history(sources, seed))
    lines = _selections({"rows": rows}, results)
    mean = f"{np.mean([0.30, 0.28, 0.29]):.4f}"
    assert lines[0] == (f"all: selected hpa_table4 row 'BCE' (f1_macro {mean} on val, mean over its 3 repeats, best "
                        "of 2 rows of hpa_table4; runs hpa_table4-00-s0, hpa_table4-00-s1, hpa_table4-00-s2 (its "
                        "repeats with seeds 0, 1, 2, one per repeat of this row)), evaluated without retraining")
    assert lines[1] == (f"first: selected hpa_table4 row 'BCE' (f1_macro {mean} on val, mean over its 3 repeats, best "
                        "of 2 rows of hpa_table4; run hpa_table4-00-s0 only (its repeat 1 of 3, seed 0; give this "
                        "row repeats: 3 to evaluate each)), evaluated without retraining")
    assert lines[2] == ("RF: selected hpa_table2 row '10 trees' (f1_macro 0.2000 on val, best of 1 rows of hpa_table2; "
                        "run hpa_table2-00: each of this row's 2 repeats evaluated that one run, so its sd is 0 by "
                        "construction), evaluated without retraining")
