"""A finished run's model kept in its folder (model.json + weights) and loaded back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from micro_bench.config import load_config
from micro_bench.runner import run_benchmark
from micro_bench_predict.card import FORMAT_VERSION, ModelCardError, read_card
from micro_bench_predict.trained import parse_threshold

BENCH = """
version: 1
name: tiny
title: tiny
seed: 3
dataset: {name: hpa_synth, n: 60, resolution: 32}
split: {method: multilabel_stratified, fractions: [0.6, 0.2, 0.2], seed: 0}
model: {name: resnet18_4ch, pretrained: false, dropout: 0.5}
trainer: {name: torch, batch_size: 16, lr: 0.01, freeze_epochs: 0, epochs: 1}
loss: bce
scheduler: null
tta: {name: flips}
evaluate: {split: val, threshold: tuned}
metrics: [f1_macro]
runs:
  - {label: CNN}
  - {label: LR, model: {name: logreg, C: 1.0}, trainer: {name: sklearn, n_jobs: 1, resolution: 16},
     loss: null, tta: null, evaluate: {threshold: 0.5}}
  - {label: RF, model: {name: random_forest, n_estimators: 3}, trainer: {name: sklearn, n_jobs: 1, resolution: 16},
     loss: null, tta: null, evaluate: {threshold: 0.5}}
"""


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A finished tiny benchmark: a ResNet18 (flips TTA, tuned thresholds), logreg, random forest."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "bench.yaml").write_text(BENCH, encoding="utf-8")
    results = run_benchmark(load_config(root / "bench.yaml"), root / "runs", echo=None, progress=False)
    return root / "runs" / "tiny", {r.label: root / "runs" / "tiny" / r.key for r in results}


def _eval_images(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from micro_bench_hpa.synth.dataset import hpa_synth

    ds = hpa_synth(n=60, resolution=32)
    with np.load(run_dir / "predictions.npz") as p:
        ids, y_score, y_pred = p["ids"], p["y_score"], p["y_pred"]
    index = {sid: i for i, sid in enumerate(ds.ids)}
    return ds.images(np.array([index[s] for s in ids])).compute(), y_score, y_pred


@pytest.mark.slow
@pytest.mark.parametrize("label", ["CNN", "LR", "RF"])
def test_loaded_model_reproduces_the_runs_evaluation(tiny_runs, label):
    from micro_bench_predict import load_trained

    run_dir = tiny_runs[1][label]
    card = read_card(run_dir)
    assert card["format_version"] == FORMAT_VERSION and card["input"]["channels"] == ["red", "green", "blue", "yellow"]
    assert card["input"]["resolution"] == 32 and len(card["classes"]) == 28
    assert card["weights"]["bytes"] == (run_dir / "checkpoints" / card["weights"]["file"]).stat().st_size
    result = json.loads((run_dir / "result.json").read_text())
    assert card["thresholds"]["values"] == result["thresholds"]["values"]
    model = load_trained(run_dir, device="cpu")
    images, y_score, y_pred = _eval_images(run_dir)
    np.testing.assert_allclose(model.predict_proba(images), y_score, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(model.predict(images), y_pred)
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(n, 4, 32, 32\)"):
        model.predict_proba(images.astype(np.float32))


@pytest.mark.slow
def test_model_card_records_architecture_and_threshold_choices(tiny_runs):
    card = read_card(tiny_runs[1]["CNN"])
    assert card["kind"] == "torch" and card["weights"]["file"] == "model.pt"
    assert card["model"]["params"]["seed"] == 3 and card["model"]["params"]["stem_init"] == "copy_red"
    assert card["tta"] == {"name": "flips", "params": {}} and card["run"]["seed"] == 3
    assert card["thresholds"]["rule"] == "tuned"
    assert set(card["threshold_choices"]) == {"0.5", "tuned", "prevalence"}
    assert card["threshold_choices"]["tuned"] == card["thresholds"]["values"]
    assert read_card(tiny_runs[1]["RF"])["weights"]["file"] == "model.skops"


@pytest.mark.slow
def test_older_format_changed_weights_and_missing_card_are_refused(tiny_runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_runs[1]["LR"], run_dir)
    card_path = run_dir / "checkpoints" / "model.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "format_version": 0}))
    with pytest.raises(ModelCardError, match="model format version 0 was written by an older micro-bench"):
        read_card(run_dir)
    card_path.write_text(json.dumps(card))
    (run_dir / "checkpoints" / "model.skops").write_bytes(b"PK\x03\x04 not the model")
    with pytest.raises(ModelCardError, match="differ from the sha256"):
        read_card(run_dir)
    card_path.unlink()
    with pytest.raises(ModelCardError, match="model.json: missing"):
        read_card(run_dir)
    with pytest.raises(ModelCardError, match="not a finished run"):
        read_card(tmp_path)


def test_untrusted_types_in_a_model_file_are_refused(tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    from micro_bench_baselines.persist import UntrustedModelError, load_estimator, save_estimator

    path = save_estimator(tmp_path / "m.skops", FunctionTransformer(func=shutil.rmtree))
    assert sio.get_untrusted_types(file=str(path))
    with pytest.raises(UntrustedModelError, match="refusing to load types outside scikit-learn and numpy: shutil.rmtree"):
        load_estimator(path)


def test_threshold_rules_and_files(tmp_path):
    card = {"classes": ["a", "b"], "run": {"label": "x"},
            "thresholds": {"rule": "tuned", "description": "per class", "values": [0.2, 0.7]},
            "threshold_choices": {"0.5": [0.5, 0.5], "tuned": [0.2, 0.7]}}
    assert parse_threshold(None, card)[1].tolist() == [0.2, 0.7]
    assert parse_threshold("0.3", card)[1].tolist() == [0.3, 0.3]
    assert parse_threshold("tuned", card)[1].tolist() == [0.2, 0.7]
    with pytest.raises(ModelCardError, match="did not keep validation predictions"):
        parse_threshold("prevalence", card)
    (tmp_path / "t.json").write_text(json.dumps({"thresholds": {"values": [0.1, 0.9]}}))
    assert parse_threshold(str(tmp_path / "t.json"), card)[1].tolist() == [0.1, 0.9]
    (tmp_path / "t.csv").write_text("class,threshold\nb,0.4\na,0.6\n")
    assert parse_threshold(str(tmp_path / "t.csv"), card)[1].tolist() == [0.6, 0.4]
    (tmp_path / "bad.csv").write_text("class,threshold\na,0.6\n")
    with pytest.raises(ModelCardError, match="no threshold for class"):
        parse_threshold(str(tmp_path / "bad.csv"), card)
    with pytest.raises(ModelCardError, match="expected 0.5 \\(a number\\), tuned, prevalence or an existing file"):
        parse_threshold("nonsense", card)
