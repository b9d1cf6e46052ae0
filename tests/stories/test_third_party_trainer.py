"""A third-party trainer written from docs/writing-plugins.md alone (its code block, verbatim) does
everything a bundled one does: it trains, ``micro-bench predict`` predicts new images with its saved
model, and Table V's ``select`` chooses and evaluates it. A trainer without save/load is refused in
one line naming it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from micro_bench_commands.cli import cli

DOCS = Path(__file__).parents[2] / "docs" / "writing-plugins.md"
DATA = ("dataset: {name: hpa_synth, n: 40, resolution: 16}\n"
        "split: {method: multilabel_stratified, fractions: [0.5, 0.25, 0.25], seed: 0}\n")
SOURCE = ("version: 1\nname: src\ntitle: centroids\nseed: 0\n" + DATA +
          "model: centroids\ntrainer: centroid\ntransform: null\nloss: null\nscheduler: null\ntta: null\n"
          "evaluate: {split: val, threshold: 0.5}\nmetrics: [f1_macro, roc_auc_macro]\n"
          "runs:\n  - {label: sharp, model: {temperature: 0.5}}\n  - {label: soft, model: {temperature: 50.0}}\n")
SELECT = ("version: 1\nname: sel\ntitle: selected\nseed: 0\n" + DATA +
          "model: selected\ntrainer: {name: select, source: SOURCE}\ntransform: null\nloss: null\n"
          "scheduler: null\ntta: null\nevaluate: {split: test, threshold: 0.5}\nmetrics: [f1_macro]\n"
          "runs:\n  - {label: best}\n")


def _doc_plugin(folder: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("```python\n# my_plugins/centroid.py\n") + len("```python\n")
    (folder / "centroid.py").write_text(text[start:text.index("```", start)], encoding="utf-8")


def _cli(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_a_trainer_from_the_docs_trains_predicts_new_images_and_is_selected(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    _doc_plugin(plugins)
    monkeypatch.setenv("MICRO_BENCH_PLUGINS_DIR", str(plugins))
    (tmp_path / "src.yaml").write_text(SOURCE)
    (tmp_path / "sel.yaml").write_text(SELECT.replace("SOURCE", str(tmp_path / "src.yaml")))
    runs = tmp_path / "runs"
    result = _cli("run", tmp_path / "src.yaml", "--out", runs)
    assert result.exit_code == 0, result.output
    index = json.loads((runs / "src" / "index.json").read_text())
    dirs = {row["label"]: runs / "src" / row["key"] for row in index["rows"]}
    assert sorted(p.name for p in (dirs["sharp"] / "model").iterdir()) == ["centroids.npz", "model.json"]

    # micro-bench predict on new images (the same synthetic samples written as Kaggle PNGs)
    pngs = tmp_path / "png"
    assert _cli("data", "synth", pngs, "--n", "40", "--resolution", "16", "--png").exit_code == 0
    out = tmp_path / "sub.csv"
    result = _cli("predict", runs / "src", pngs, "--run", "sharp", "--out", out, "--probabilities")
    assert result.exit_code == 0, result.output
    with out.open(newline="") as fh:
        rows = {r["Id"]: r for r in csv.DictReader(fh)}
    card = json.loads((dirs["sharp"] / "model" / "model.json").read_text())
    assert card["kind"] == "centroid" and len(rows) == 40
    with np.load(dirs["sharp"] / "predictions.npz") as p:  # the run's own validation predictions
        mine = np.array([[float(rows[str(i)][c]) for c in card["classes"]] for i in p["ids"]])
        np.testing.assert_allclose(mine, p["y_score"], rtol=0, atol=1e-6)

    # select: the better validation row is chosen and evaluated on test with its saved model
    result = _cli("run", tmp_path / "sel.yaml", "--out", runs)
    assert result.exit_code == 0, result.output
    values = {label: json.loads((d / "result.json").read_text())["metrics"]["f1_macro"] for label, d in dirs.items()}
    [row] = json.loads((runs / "sel" / "index.json").read_text())["rows"]
    selected = json.loads((runs / "sel" / row["key"] / "result.json").read_text())
    assert selected["history"]["selected"]["label"] == max(values, key=values.get)

    from micro_bench import Split
    from micro_bench.host import Host

    host = Host.load()
    ds = host.registries["dataset"].create("hpa_synth", n=40, resolution=16)
    split = Split.of(ds, {"method": "multilabel_stratified", "fractions": [0.5, 0.25, 0.25], "seed": 0})
    import sys

    module = sys.modules["micro_bench_local_centroid"]
    trainer = module.CentroidTrainer()
    chosen = dirs[selected["history"]["selected"]["label"]]
    params = json.loads((chosen / "model" / "model.json").read_text())["model"]["params"]
    model = trainer.load(chosen / "model", module.Centroids(28, 4, **params))
    expected = trainer.predict(model, ds, split.test, tta=None, transform=None, context=None)
    with np.load(runs / "sel" / row["key"] / "predictions.npz") as p:
        np.testing.assert_allclose(p["y_score"], expected, rtol=0, atol=1e-12)


def test_a_trainer_without_save_and_load_is_refused_by_predict_naming_it(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    _doc_plugin(plugins)
    code = (plugins / "centroid.py").read_text()
    code = code[:code.index("    def save(")] + code[code.index("@hookimpl"):]  # the same trainer, no save/load
    (plugins / "centroid.py").write_text(code.replace('"centroid", CentroidTrainer', '"plain_centroid", CentroidTrainer'))
    monkeypatch.setenv("MICRO_BENCH_PLUGINS_DIR", str(plugins))
    (tmp_path / "src.yaml").write_text(SOURCE.replace("trainer: centroid", "trainer: plain_centroid")
                                       .replace("dataset: {name: hpa_synth, n: 40", "dataset: {name: hpa_synth, n: 24"))
    runs = tmp_path / "runs"
    assert _cli("run", tmp_path / "src.yaml", "--out", runs).exit_code == 0
    (tmp_path / "images").mkdir()
    result = _cli("predict", runs / "src", tmp_path / "images", "--run", "sharp", "--out", tmp_path / "x.csv")
    assert result.exit_code == 1
    assert "its trainer 'plain_centroid' does not save models (it has no save/load methods" in result.output
    assert not (tmp_path / "x.csv").exists()
