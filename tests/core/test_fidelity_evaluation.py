"""Evaluation settings are not training: ``--set evaluate.split=...`` (or another threshold rule
or metric list) on a finished benchmark evaluates its trained models instead of retraining them."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import toy_plugin
from micro_bench.config import load_config
from micro_bench.runner import run_benchmark


@pytest.fixture
def saving_toy(monkeypatch):
    """The toy trainer with the optional save/load of the Trainer contract."""

    def save(self, model, path):
        (path / "model.pkl").write_bytes(pickle.dumps(model.prevalence))

    def load(self, path, model):
        model.prevalence = pickle.loads((path / "model.pkl").read_bytes())  # noqa: S301 - the test's own file
        return model

    monkeypatch.setattr(toy_plugin.ToyTrainer, "save", save, raising=False)
    monkeypatch.setattr(toy_plugin.ToyTrainer, "load", load, raising=False)


def test_another_evaluated_split_reuses_the_trained_models(toy_pm, toy_bench, tmp_path, saving_toy):
    path, out = toy_bench(), tmp_path / "runs"
    first = run_benchmark(load_config(path), out, host=toy_pm, progress=False)
    fits = toy_plugin.CALLS["fit"]
    models = {r.key: (out / "toybench" / r.key / "model" / "model.pkl") for r in first}
    stamps = {k: (p.stat().st_mtime_ns, p.read_bytes()) for k, p in models.items()}

    again = run_benchmark(load_config(path, overrides=["evaluate.split=val"]), out, host=toy_pm, progress=False)
    assert toy_plugin.CALLS["fit"] == fits  # nothing trained
    assert {k: (p.stat().st_mtime_ns, p.read_bytes()) for k, p in models.items()} == stamps  # models untouched
    for old, new in zip(first, again, strict=True):
        assert new.key != old.key and not new.cached
        config = json.loads((out / "toybench" / new.key / "config.json").read_text())
        assert config["trained_in"] == old.key and new.history["trained_in"] == old.key
        assert config["training_key"] == json.loads((out / "toybench" / old.key / "config.json").read_text())["training_key"]
        assert new.config["evaluate"]["split"] == "val" and new.counts["n"]["val"] > 0
        preds = np.load(out / "toybench" / new.key / "predictions.npz")
        assert len(preds["y_true"]) == new.counts["n"]["val"]

    # the same numbers as training again (--force retrains: one fit per row)
    forced = run_benchmark(load_config(path, overrides=["evaluate.split=val"]), out, host=toy_pm, progress=False,
                           force=True)
    assert toy_plugin.CALLS["fit"] == fits + len(first)
    assert [r.metrics for r in forced] == [r.metrics for r in again]
    # other metrics or thresholds: also evaluation only
    run_benchmark(load_config(path, overrides=["evaluate.threshold=0.3", "metrics=[accuracy]"]), out,
                  host=toy_pm, progress=False)
    assert toy_plugin.CALLS["fit"] == fits + len(first)


def test_a_trainer_without_load_trains_again(toy_pm, toy_bench, tmp_path):
    path, out = toy_bench(), tmp_path / "runs"
    run_benchmark(load_config(path), out, host=toy_pm, progress=False)
    fits = toy_plugin.CALLS["fit"]
    run_benchmark(load_config(path, overrides=["evaluate.split=val"]), out, host=toy_pm, progress=False)
    assert toy_plugin.CALLS["fit"] == fits + 2


def test_title_and_paper_column_follow_the_evaluated_split(toy_pm, toy_bench, tmp_path):
    from micro_bench.results import index_name

    text = toy_plugin.TOY_BENCH.replace("title: Toy table", "title: Toy table, {split} set").replace(
        "reference: ref.csv", "reference: ref.csv\nreference_split: test")
    path, out = toy_bench(text), tmp_path / "runs"
    assert load_config(path).title == "Toy table, test set"
    run_benchmark(load_config(path), out, host=toy_pm, progress=False)
    index = json.loads((out / "toybench" / "index.json").read_text())
    assert index["title"] == "Toy table, test set" and index["reference_csv"] and index["evaluated_split"] == "test"
    sets = ["evaluate.split=val"]
    run_benchmark(load_config(path, overrides=sets), out, host=toy_pm, progress=False)
    index = json.loads((out / "toybench" / index_name(sets)).read_text())
    # the paper has no validation numbers here: no paper column, and the title says what was evaluated
    assert index["title"] == "Toy table, validation set" and index["reference_csv"] is None
    assert (index["evaluated_split"], index["reference_split"]) == ("val", "test")
    with pytest.raises(Exception, match="reference_split: expected the split"):
        load_config(toy_bench(text.replace("reference_split: test", "reference_split: dev")))
