"""A run's ``model/model.json`` edited so that its class (or channel) list no longer fits the saved
model: ``predict`` refuses it in one line naming the card, what it lists and what the model gives,
right after loading the model (before any image is read), exit 1, nothing written. The check
(:func:`micro_bench_predict.card.check_card_fits`) is the one ``export`` uses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from .conftest import assert_user_error, invoke
from .test_probe_findings import SK


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sk_card")
    (root / "b.yaml").write_text(yaml.safe_dump({**SK, "runs": [{"label": "a"}]}))
    result = invoke("run", str(root / "b.yaml"), "--out", str(root / "runs"), "--no-progress")
    assert result.exit_code == 0, result.output
    return root / "runs"


def _edit(run: Path, **changes) -> Path:
    card = run / "model" / "model.json"
    data = json.loads(card.read_text())
    for key, value in changes.items():
        if key == "channels":
            data["input"]["channels"] = value
        else:
            data[key] = value
    card.write_text(json.dumps(data))
    return card


@pytest.mark.parametrize("what", ["classes", "channels"])
def test_predict_refuses_a_card_that_does_not_fit_the_sklearn_model(finished: Path, tmp_path: Path, what: str) -> None:
    runs = Path(shutil.copytree(finished, tmp_path / "runs"))
    (run,) = [p.parent.parent for p in runs.glob("tiny_sk/*/model/model.json")]
    card = json.loads((run / "model" / "model.json").read_text())
    assert len(card["classes"]) == 28 and len(card["input"]["channels"]) == 4
    if what == "classes":
        _edit(run, classes=card["classes"][:3])
        needle = "lists 3 classes but the model gives 28 outputs per image"
    else:
        _edit(run, channels=card["input"]["channels"][:3])
        needle = "lists 3 input channels but the model takes 4"
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "x_red.png").write_bytes(b"not an image: never read")
    out = tmp_path / "p.csv"
    assert_user_error(invoke("predict", str(run), str(images), "--out", str(out)), f"{run}/model/model.json: {needle}")
    assert not out.exists() and not (tmp_path / "p.skipped.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "runs"]


def test_an_unedited_sklearn_card_fits(finished: Path) -> None:
    """The check agrees with the model's own predictions (no false refusal)."""
    from micro_bench_predict.trained import load_trained, model_shape

    (run,) = [p.parent.parent for p in finished.glob("tiny_sk/*/model/model.json")]
    model = load_trained(run)
    outputs, channels = model_shape(model.trainer, model.model, model.card)
    proba = model.predict_proba(np.zeros((2, 4, 32, 32), np.uint8))
    assert (outputs, channels) == (proba.shape[1], 4) == (28, 4)


TORCH = {
    "version": 1, "name": "tiny_torch", "seed": 0,
    "dataset": {"name": "hpa_synth", "n": 24, "resolution": 32},
    "split": {"fractions": [0.5, 0.25, 0.25]},
    "model": {"name": "timm:resnet10t", "pretrained": False},
    "trainer": {"name": "torch", "batch_size": 8, "epochs": 1, "freeze_epochs": 0, "device": "cpu", "threads": 1,
                "epoch_metrics": []},
    "loss": "bce", "scheduler": None, "tta": None, "transform": None,
    "evaluate": {"split": "val", "threshold": 0.5}, "metrics": ["f1_macro"], "runs": [{"label": "t"}],
}


@pytest.mark.slow
@pytest.mark.parametrize("what", ["classes", "channels"])
def test_predict_refuses_a_card_that_does_not_fit_the_torch_model(tmp_path: Path, what: str) -> None:
    import torch

    from micro_bench_predict.card import ModelCardError
    from micro_bench_predict.trained import load_trained, model_shape

    (tmp_path / "b.yaml").write_text(yaml.safe_dump(TORCH))
    result = invoke("run", str(tmp_path / "b.yaml"), "--out", str(tmp_path / "runs"), "--no-progress")
    assert result.exit_code == 0, result.output
    (run,) = [p.parent.parent for p in (tmp_path / "runs").glob("tiny_torch/*/model/model.json")]
    model = load_trained(run, device="cpu")
    with torch.no_grad():  # the meta-device pass agrees with a real forward pass
        real = model.model.cpu().eval()(torch.zeros(1, 4, 32, 32))
    assert model_shape(model.trainer, model.model, model.card) == (real.shape[1], 4) == (28, 4)
    card = model.card
    if what == "classes":
        _edit(run, classes=card["classes"] + ["extra"])
        needle = "lists 29 classes but the model gives 28 outputs per image"
    else:
        _edit(run, channels=card["input"]["channels"][:2])
        needle = "lists 2 input channels but the model takes 4"
    with pytest.raises(ModelCardError, match=needle):
        load_trained(run, device="cpu")
    (tmp_path / "imgs").mkdir()
    out = tmp_path / "p.csv"
    assert_user_error(invoke("predict", str(run), str(tmp_path / "imgs"), "--out", str(out)), "model/model.json: " + needle)
    assert not out.exists()
