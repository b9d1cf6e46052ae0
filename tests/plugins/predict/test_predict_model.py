"""A finished run's model kept in its folder (model.json + weights) and loaded back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from micro_bench.config import load_config
from micro_bench.host import Host
from micro_bench.runner import run_benchmark
from micro_bench_predict.card import FORMAT_VERSION, ModelCardError, read_card
from micro_bench_predict.rules import parse_threshold

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
  - {label: CNN random TTA, tta: {name: random, n: 2}}
  - {label: LR, model: {name: logreg, C: 1.0}, trainer: {name: sklearn, n_jobs: 1, resolution: 16},
     loss: null, tta: null, evaluate: {threshold: 0.5}}
  - {label: RF, model: {name: random_forest, n_estimators: 3}, trainer: {name: sklearn, n_jobs: 1, resolution: 16},
     loss: null, tta: null, evaluate: {threshold: 0.5}}
"""


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A finished tiny benchmark: a ResNet18 (flips TTA, tuned thresholds; and with random TTA),
    logreg, random forest."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "bench.yaml").write_text(BENCH, encoding="utf-8")
    results = run_benchmark(load_config(root / "bench.yaml"), root / "runs", host=Host.load(entrypoints=False),
                            echo=None, progress=False)
    return root / "runs" / "tiny", {r.label: root / "runs" / "tiny" / r.key for r in results}


def _eval_images(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from micro_bench_hpa.synth.dataset import hpa_synth

    ds = hpa_synth(n=60, resolution=32)
    with np.load(run_dir / "predictions.npz") as p:
        ids, y_score, y_pred = p["ids"], p["y_score"], p["y_pred"]
    index = {sid: i for i, sid in enumerate(ds.ids)}
    return ds.images(np.array([index[s] for s in ids])).compute(), y_score, y_pred


@pytest.mark.slow
@pytest.mark.parametrize("label", ["CNN", "CNN random TTA", "LR", "RF"])
def test_loaded_model_reproduces_the_runs_evaluation(tiny_runs, label):
    from micro_bench_predict import load_trained

    run_dir = tiny_runs[1][label]
    card = read_card(run_dir)
    assert card["format_version"] == FORMAT_VERSION and card["input"]["channels"] == ["red", "green", "blue", "yellow"]
    assert card["input"]["resolution"] == 32 and len(card["classes"]) == 28
    assert all(meta["bytes"] == (run_dir / "model" / name).stat().st_size for name, meta in card["files"].items())
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
    assert card["kind"] == "torch" and list(card["files"]) == ["model.pt"]
    assert card["model"]["params"]["seed"] == 3 and card["model"]["params"]["stem_init"] == "copy_red"
    assert card["tta"] == {"name": "flips", "params": {}} and card["run"]["seed"] == 3
    transform = json.loads((tiny_runs[1]["CNN"] / "config.json").read_text())["run"]["transform"]
    assert card["transform"] == {"name": transform.pop("name"), "params": transform}
    assert card["thresholds"]["rule"] == "tuned"
    assert set(card["threshold_choices"]) == {"0.5", "tuned", "prevalence"}
    assert card["threshold_choices"]["tuned"] == card["thresholds"]["values"]
    assert list(read_card(tiny_runs[1]["RF"])["files"]) == ["model.skops", "stats.json"]


@pytest.mark.slow
def test_older_format_changed_weights_and_missing_card_are_refused(tiny_runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_runs[1]["LR"], run_dir)
    card_path = run_dir / "model" / "model.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "format_version": 1}))
    with pytest.raises(ModelCardError, match="model format version 1 was written by an older micro-bench"):
        read_card(run_dir)
    card_path.write_text(json.dumps({**card, "files": {"../../elsewhere.skops": card["files"]["model.skops"]}}))
    with pytest.raises(ModelCardError, match="kind 'sklearn' with file '../../elsewhere.skops'"):
        read_card(run_dir)
    card_path.write_text(json.dumps(card))
    (run_dir / "model" / "model.skops").write_bytes(b"PK\x03\x04 not the model")
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


# --- micro-bench predict ----------------------------------------------------------------------

def _cli(*args: str):
    from click.testing import CliRunner

    from micro_bench_commands.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def kaggle_folder(tmp_path_factory):
    """The tiny runs' 60 images again, written by `micro-bench data synth --png` (Kaggle layout)."""
    folder = tmp_path_factory.mktemp("png") / "test"
    result = _cli("data", "synth", folder, "--n", "60", "--resolution", "32", "--png")
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.slow
def test_predict_writes_a_submission_equal_to_the_runs_evaluation(tiny_runs, kaggle_folder, tmp_path):
    from micro_bench_metrics.thresholds import apply_thresholds

    runs_dir, dirs = tiny_runs
    out = tmp_path / "sub.csv"
    result = _cli("predict", runs_dir, kaggle_folder, "--run", "CNN", "--out", out, "--probabilities",
                  "--batch-size", "16")
    assert result.exit_code == 0, result.output
    assert "images/s" in result.output
    rows = _read_csv(out)
    expected_ids = [r["Id"] for r in _read_csv(kaggle_folder / "train.csv")]
    assert sorted(r["Id"] for r in rows) == sorted(expected_ids) and len(rows) == 60  # every id once
    card = read_card(dirs["CNN"])
    proba = np.array([[float(r[c]) for c in card["classes"]] for r in rows])
    labels = apply_thresholds(proba, np.asarray(card["thresholds"]["values"]))
    for r, row_labels in zip(rows, labels, strict=True):
        got = [int(k) for k in r["Predicted"].split()]
        assert got == sorted(set(got)) and all(0 <= k < 28 for k in got)
        assert got == np.flatnonzero(row_labels).tolist()
    with np.load(dirs["CNN"] / "predictions.npz") as p:
        position = {r["Id"]: i for i, r in enumerate(rows)}
        mine = proba[[position[str(i)] for i in p["ids"]]]
        np.testing.assert_allclose(mine, p["y_score"], rtol=0, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("label", ["LR", "RF"])
def test_baselines_predict_from_a_store(tiny_runs, tmp_path, label):
    from micro_bench_hpa.synth.dataset import hpa_synth

    store = hpa_synth(n=60, resolution=32).path
    out = tmp_path / "sub.csv"
    result = _cli("predict", tiny_runs[1][label], store, "--out", out, "--probabilities", "--threshold", "0.5",
                  "--workers", "1")  # the store reader reopens in the worker process
    assert result.exit_code == 0, result.output
    rows = _read_csv(out)
    classes = read_card(tiny_runs[1][label])["classes"]
    with np.load(tiny_runs[1][label] / "predictions.npz") as p:
        by_id = {r["Id"]: r for r in rows}
        mine = np.array([[float(by_id[str(i)][c]) for c in classes] for i in p["ids"]])
        np.testing.assert_allclose(mine, p["y_score"], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_bad_images_are_reported_and_skipped(tiny_runs, kaggle_folder, tmp_path):
    import tifffile
    from PIL import Image

    folder = tmp_path / "mixed"
    shutil.copytree(kaggle_folder, folder)
    files = sorted((folder / "train").glob("*_red.png"))
    ids = [f.name[: -len("_red.png")] for f in files]
    (folder / "train" / f"{ids[0]}_yellow.png").unlink()  # missing channel
    (folder / "train" / f"{ids[1]}_green.png").write_bytes(b"not a png")  # unreadable
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / "train" / f"{ids[2]}_blue.png")  # wrong size
    # A 16-bit TIFF field is read by the converter's rule (round(x / 257)): same pixels, same scores.
    for color in ("red", "green", "blue", "yellow"):
        png = folder / "train" / f"{ids[3]}_{color}.png"
        tifffile.imwrite(png.with_suffix(".tif"), np.asarray(Image.open(png), np.uint16) * 257)
        png.unlink()
    out = tmp_path / "p.csv"
    result = _cli("predict", tiny_runs[1]["CNN"], folder, "--out", out, "--probabilities")
    assert result.exit_code == 3, result.output
    assert "skipped 3 of 60 images (1 missing_channel, 1 unreadable, 1 wrong_size)" in result.output
    report = {r["Id"]: r["problem"] for r in _read_csv(tmp_path / "p.skipped.csv")}
    assert report == {ids[0]: "missing_channel", ids[1]: "unreadable", ids[2]: "wrong_size"}
    rows = {r["Id"]: r for r in _read_csv(out)}
    assert len(rows) == 57 and not set(report) & set(rows)
    reference = {r["Id"]: r for r in _read_csv(_reference_csv(tiny_runs, kaggle_folder, tmp_path))}
    assert rows[ids[3]] == reference[ids[3]]


def _reference_csv(tiny_runs, folder, tmp_path) -> Path:
    out = tmp_path / "reference.csv"
    assert _cli("predict", tiny_runs[1]["CNN"], folder, "--out", out, "--probabilities").exit_code == 0
    return out


@pytest.mark.slow
def test_readable_table_and_previews(tiny_runs, kaggle_folder, tmp_path):
    out = tmp_path / "readable.csv"
    result = _cli("predict", tiny_runs[1]["CNN"], kaggle_folder, "--out", out, "--format", "readable",
                  "--threshold", "0.35", "--preview", tmp_path / "prev", "--preview-n", "2", "--workers", "2")
    assert result.exit_code == 0, result.output
    rows = _read_csv(out)
    probs = {r["Id"]: r for r in _read_csv(_reference_csv(tiny_runs, kaggle_folder, tmp_path))}
    classes = read_card(tiny_runs[1]["CNN"])["classes"]
    from micro_bench_metrics.thresholds import apply_thresholds

    for row in rows:
        scores = sorted(((float(probs[row["Id"]][c]), c) for c in classes), reverse=True)
        passes = apply_thresholds(np.array([[s for s, _ in scores]]), np.full(len(classes), 0.35))[0]
        above = [f"{c} ({s:.3f})" for (s, c), ok in zip(scores, passes, strict=True) if ok]
        assert row["locations"] == ("; ".join(above) or "(none above threshold)")
        assert int(row["n_locations"]) == len(above)
        assert row["most_likely"].split("; ")[0] == f"{scores[0][1]} ({scores[0][0]:.3f})"
    assert sorted(p.name for p in (tmp_path / "prev").iterdir()) == [f"{r['Id']}.png" for r in rows[:2]]


@pytest.mark.slow
def test_python_api_returns_a_frame(tiny_runs, monkeypatch):
    import sys

    from micro_bench_predict import load_trained, predict

    images, y_score, _ = _eval_images(tiny_runs[1]["LR"])
    frame = predict(tiny_runs[0], images, run="LR", ids=[f"img{i}" for i in range(len(images))])
    model = load_trained(tiny_runs[1]["LR"])
    assert list(frame.columns) == ["Id", "Predicted", *model.classes]
    np.testing.assert_allclose(frame[model.classes].to_numpy(), y_score, rtol=0, atol=1e-6)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"install pandas \(pip install 'micro-bench\[pandas\]'\)"):
        predict(tiny_runs[1]["LR"], images)


@pytest.mark.slow
def test_a_finished_run_has_its_model_and_no_resume_state(tiny_runs):
    """The runner saves the model before result.json; the torch trainer's finalize drops last.pt."""
    folder = tiny_runs[1]["CNN"]
    assert (folder / "model" / "model.pt").is_file() and not (folder / "checkpoints" / "last.pt").exists()
    assert read_card(folder)["statistics"]["over"] == "train"


@pytest.mark.slow
def test_a_changed_architecture_is_named_not_loaded(tiny_runs, tmp_path):
    from micro_bench_predict import load_trained

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_runs[1]["CNN"], run_dir)
    card_path = run_dir / "model" / "model.json"
    card = json.loads(card_path.read_text())
    card["model"]["name"] = "resnet34_4ch"  # as if the factory's default architecture had changed
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match=r"cannot rebuild model 'resnet34_4ch' with trainer 'torch': .*"
                                             r"\d+ weights missing.*the installed 'resnet34_4ch' is not the architecture"):
        load_trained(run_dir, device="cpu")
