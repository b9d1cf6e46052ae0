"""Issue 23's "done when": a dataset that is not HPA goes convert -> init -> run -> predict with
no Python written (every step a command), its class names in the table, and the numbers equal a
computation by hand (scikit-learn's metrics on the run's saved predictions; the predict command's
labels on the validation images equal the run's own)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import f1_score, precision_score, roc_auc_score

from owndata import CHANNELS3, CLASSES, make_pixels, write_labels, write_png_per_channel, write_tiff

K = 8


def mb(*args: str, cwd: Path | None = None):
    from micro_bench_commands.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A 3-channel, 8-class 16-bit dataset: one PNG per channel, converted and given a starter benchmark."""
    root = tmp_path_factory.mktemp("own")
    ids, labels, pixels = make_pixels(n=90, channels=3, side=64, classes=CLASSES[:K], signal=200, seed=3)
    write_labels(root / "labels.csv", ids, labels, CLASSES[:K], sep="|", id_col="Id", label_col="Label")
    write_png_per_channel(root / "images", ids, pixels, CHANNELS3)
    write_tiff(root / "new", ids[:6], pixels[:6], CHANNELS3, ome=True)
    store = root / "cells.zarr"
    mb("data", "convert", str(root / "images"), str(store), "--labels", str(root / "labels.csv"),
       "--id-column", "Id", "--label-column", "Label", "--separator", "|", "--classes", ",".join(CLASSES[:K]),
       "--channels", ",".join(CHANNELS3), "--pattern", "{id}_{channel}.png", "--resolutions", "64,32", "--workers", "1")
    mb("init", str(store), "--out", str(root / "cells.yaml"))
    return root, ids, labels


def _run_folder(root: Path, label: str) -> Path:
    index = json.loads((root / "runs" / "cells" / "index.json").read_text())
    key = next(r["key"] for r in index["rows"] if r["label"] == label)
    return root / "runs" / "cells" / key


def test_logistic_regression_convert_init_run_predict(project):
    root, ids, labels = project
    out = mb("run", str(root / "cells.yaml"), "--profile", "smoke", "--run", "logistic regression",
             "--out", str(root / "runs"), "--no-progress").output
    for name in CLASSES[:K]:
        assert name in out  # the per-class table names every class
    tables = sorted((root / "runs" / "cells").glob("table*.md"))
    assert tables and all(f"| {k} {name} |" in tables[0].read_text() for k, name in enumerate(CLASSES[:K]))
    run = _run_folder(root, "logistic regression")
    saved = np.load(run / "predictions.npz")
    result = json.loads((run / "result.json").read_text())
    y_true, y_score, y_pred = saved["y_true"].astype(bool), saved["y_score"], saved["y_pred"].astype(bool)
    # the labels are the store's, which are the CSV's
    row = {sid: i for i, sid in enumerate(ids)}
    assert np.array_equal(y_true, labels[[row[str(i)] for i in saved["ids"]]])
    assert np.array_equal(y_pred, y_score >= 0.5)
    metrics = result["metrics"]
    assert metrics["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-12)
    assert metrics["f1_micro"] == pytest.approx(f1_score(y_true, y_pred, average="micro", zero_division=0), abs=1e-12)
    assert metrics["precision_macro"] == pytest.approx(
        precision_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-12)
    assert metrics["roc_auc_macro"] == pytest.approx(roc_auc_score(y_true, y_score, average="macro"), abs=1e-12)
    assert 0.3 < metrics["f1_macro"] < 1.0  # learnable, not trivial
    assert result["dataset"]["class_names"] == CLASSES[:K] and result["dataset"]["channels"] == CHANNELS3
    # predict on the store's own samples gives the run's labels for its validation images
    mb("predict", str(run), str(root / "cells.zarr"), "--out", str(root / "pred.csv"))
    with (root / "pred.csv").open() as fh:
        got = {r["Id"]: r["Predicted"] for r in csv.DictReader(fh)}
    for sid, hot in zip(saved["ids"], y_pred, strict=True):
        assert got[str(sid)] == " ".join(str(k) for k in np.flatnonzero(hot))
    # new images in another layout (OME-TIFF) with --pattern, names in the readable format
    mb("predict", str(run), str(root / "new"), "--pattern", "{id}.ome.tif", "--out", str(root / "new.csv"),
       "--format", "readable")
    rows = list(csv.DictReader((root / "new.csv").open()))
    assert [r["Id"] for r in rows] == ids[:6]
    assert all(any(name in r["most_likely"] for name in CLASSES[:K]) for r in rows)
    mb("predict", str(run), str(root / "new"), "--pattern", "{id}.ome.tif", "--out", str(root / "new_k.csv"))
    kaggle = {r["Id"]: r["Predicted"] for r in csv.DictReader((root / "new_k.csv").open())}
    assert all(got[sid] == kaggle[sid] for sid in ids[:6])  # same pixels, same labels


@pytest.mark.slow
def test_resnet_row_runs_and_predicts(project):
    root, ids, labels = project
    text = (root / "cells.yaml").read_text()
    assert "trainer: {epochs: 4, threads: 1" in text
    (root / "cells.yaml").write_text(text.replace("trainer: {epochs: 4, threads: 1", "trainer: {epochs: 1, threads: 1"))
    mb("run", str(root / "cells.yaml"), "--profile", "smoke", "--run", "ResNet-10-T", "--out", str(root / "runs"),
       "--no-progress")
    run = _run_folder(root, "ResNet-10-T")
    saved = np.load(run / "predictions.npz")
    result = json.loads((run / "result.json").read_text())
    y_true, y_pred = saved["y_true"].astype(bool), saved["y_pred"].astype(bool)
    assert result["metrics"]["f1_macro"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-12)
    card = json.loads((run / "model" / "model.json").read_text())
    assert card["input"]["dtype"] == "uint16" and card["classes"] == CLASSES[:K]
    assert card["input"]["files"]["pattern"] == "{id}_{channel}.png"
    mb("predict", str(run), str(root / "images"), "--out", str(root / "resnet.csv"))
    rows = list(csv.DictReader((root / "resnet.csv").open()))
    assert len(rows) == len(ids)


def test_init_and_info_refuse_bad_inputs_in_one_line(project, tmp_path):
    from micro_bench_commands.cli import cli

    root, *_ = project
    runner = CliRunner()
    existing = tmp_path / "b.yaml"
    existing.write_text("keep me\n")
    result = runner.invoke(cli, ["init", str(root / "cells.zarr"), "--out", str(existing)])
    assert result.exit_code == 1 and "exists; choose another --out or pass --force" in result.output
    assert existing.read_text() == "keep me\n"  # nothing replaced
    result = runner.invoke(cli, ["init", str(root / "cells.zarr"), "--out", str(existing), "--force"])
    assert result.exit_code == 0 and "name: cells" in existing.read_text()
    (tmp_path / "empty").mkdir()
    for args in (["init", str(tmp_path / "empty")], ["data", "info", str(tmp_path / "empty")]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "not a micro-bench/hpa zarr store" in errors[0]
