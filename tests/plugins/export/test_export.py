"""``micro-bench export``: ONNX, TorchScript and BioImage.IO packages of a finished run, equal to the
run's own model (micro-bench's ``predict`` path, no TTA) within 1e-4, written atomically, never into
a results folder; the package validated offline by bioimageio.spec."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from micro_bench_export.export import TOLERANCE, ExportError, _atomic, check_out, export_run
from micro_bench_predict.card import model_folder

BENCH = """
version: 1
name: tiny_export
title: tiny
seed: 3
dataset: {name: hpa_synth, n: 48, resolution: 32}
split: {method: multilabel_stratified, fractions: [0.5, 0.25, 0.25], seed: 0}
model: {name: "timm:resnet10t", pretrained: false, head: fastai, dropout: 0.5}
trainer: {name: torch, batch_size: 8, lr: 0.01, freeze_epochs: 0, epochs: 1, device: cpu, threads: 1,
          epoch_metrics: []}
loss: bce
scheduler: null
tta: {name: flips}
evaluate: {split: val, threshold: 0.5}
metrics: [f1_macro]
runs:
  - {label: CNN}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from micro_bench.config import load_config
    from micro_bench.host import Host
    from micro_bench.runner import run_benchmark

    root = tmp_path_factory.mktemp("export")
    (root / "bench.yaml").write_text(BENCH, encoding="utf-8")
    (result,) = run_benchmark(load_config(root / "bench.yaml"), root / "runs", host=Host.load(entrypoints=False),
                              echo=None, progress=False)
    return root / "runs" / "tiny_export" / result.key


def _evaluated(run_dir: Path, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The run's first n evaluation images (uint8) and micro-bench's own probabilities without TTA."""
    from micro_bench_hpa.synth.dataset import hpa_synth
    from micro_bench_predict.trained import load_trained

    ds = hpa_synth(n=48, resolution=32)
    with np.load(run_dir / "predictions.npz") as p:
        ids = p["ids"][:n]
    index = {sid: i for i, sid in enumerate(ds.ids)}
    images = np.asarray(ds.images(np.array([index[s] for s in ids])).compute())
    return images, load_trained(run_dir, device="cpu").predict_proba(images, tta=False)


@pytest.mark.slow
def test_onnx_equals_the_runs_model(run_dir: Path, tmp_path: Path) -> None:
    import onnx
    import onnxruntime

    done = export_run(run_dir, "onnx", tmp_path / "m.onnx")
    images, expected = _evaluated(run_dir)
    session = onnxruntime.InferenceSession(str(done.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": images.astype(np.float32)})[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    model = onnx.load(str(done.path))
    assert done.record["opset"] == next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    record = json.loads((tmp_path / "m.onnx.json").read_text())
    assert record["check"]["max_abs_diff"] <= TOLERANCE and "samples the run evaluated" in record["check"]["inputs"]
    assert record["output"]["classes"] == json.loads((model_folder(run_dir) / "model.json").read_text())["classes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.json"]  # no temporary left


@pytest.mark.slow
def test_torchscript_equals_the_runs_model(run_dir: Path, tmp_path: Path) -> None:
    import torch

    done = export_run(run_dir, "torchscript", tmp_path / "m.pt")
    images, expected = _evaluated(run_dir)
    module = torch.jit.load(str(done.path))
    with torch.no_grad():
        got = module(torch.from_numpy(images.astype(np.float32))).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.slow
def test_bioimageio_package_validates_offline_and_reproduces(run_dir: Path, tmp_path: Path) -> None:
    import onnxruntime
    import yaml
    from bioimageio.spec import load_description

    done = export_run(run_dir, "bioimageio", tmp_path / "m.zip", license="CC-BY-4.0")
    descr = load_description(str(done.path), perform_io_checks=True)
    assert descr.validation_summary.status in ("passed", "valid-format"), descr.validation_summary.format()
    with zipfile.ZipFile(done.path) as archive:
        names = set(archive.namelist())
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
        test_in = np.load(archive.open("test_input.npy"))
        test_out = np.load(archive.open("test_output.npy"))
        onnx_bytes = archive.read(rdf["weights"]["onnx"]["source"])
    assert {"rdf.yaml", "README.md", "test_input.npy", "test_output.npy"} <= names
    assert set(rdf["weights"]) == {"onnx", "torchscript"}
    card = json.loads((model_folder(run_dir) / "model.json").read_text())
    assert rdf["config"]["micro_bench"]["classes"] == card["classes"]
    assert rdf["inputs"][0]["axes"][1]["channel_names"] == card["input"]["channels"]
    assert len(rdf["outputs"][0]["axes"][1]["channel_names"]) == len(card["classes"])
    assert rdf["cite"] and "Predicting Protein Organelle Localization" in rdf["cite"][0]["text"]
    assert "hpa_synth" in rdf["training_data"]["name"]
    # the model's licence only as given; the data's: HPA's labels, CC BY-SA 3.0
    assert rdf["license"] == "CC-BY-4.0" and rdf["training_data"]["license"] == "CC-BY-SA-3.0"
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"image": test_in})[0], test_out, rtol=0, atol=TOLERANCE)
    images, expected = _evaluated(run_dir, 1)
    np.testing.assert_array_equal(test_in, images.astype(np.float32))
    np.testing.assert_allclose(test_out, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.slow
def test_cli_refuses_results_folders_and_bad_options(run_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from micro_bench.host import Host
    from micro_bench_commands.cli import cli

    host = Host.load(entrypoints=False)
    inside = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "onnx", "--out",
                                      str(run_dir.parent / "model.onnx")], obj=host)
    assert inside.exit_code != 0 and "inside the results folder" in inside.output
    assert len(inside.output.strip().splitlines()) == 1
    assert not (run_dir.parent / "model.onnx").exists()
    own = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "torchscript", "--out",
                                   str(model_folder(run_dir) / "model.pt")], obj=host)
    assert own.exit_code != 0 and "one of the run's own files" in own.output
    bad = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "keras"], obj=host)
    assert bad.exit_code != 0 and "keras" in bad.output
    for args, says in ((["--format", "bioimageio", "--license", "NOT-A-LICENCE"], "not an SPDX licence id"),
                       (["--format", "onnx", "--license", "MIT"], "only a bioimageio package")):
        refused = CliRunner().invoke(cli, ["export", str(run_dir), *args, "--out", str(tmp_path / "x.zip")], obj=host)
        assert refused.exit_code != 0 and says in refused.output, refused.output
        assert len(refused.output.strip().splitlines()) == 1 and not (tmp_path / "x.zip").exists()
    ok = CliRunner().invoke(cli, ["export", str(run_dir), "--format", "torchscript", "--out",
                                  str(tmp_path / "ok.pt"), "--check-samples", "4"], obj=host)
    assert ok.exit_code == 0, ok.output
    assert "max |difference|" in ok.output and (tmp_path / "ok.pt").is_file()


def test_output_paths_inside_results_or_of_another_kind_are_refused(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "bench" / "abc"
    (run / "checkpoints").mkdir(parents=True)
    (run / "result.json").write_text("{}")
    (run / "checkpoints" / "model.pt").write_bytes(b"x")
    (tmp_path / "runs" / "bench" / "index.json").write_text("{}")
    for out, message in ((run / "checkpoints" / "model.pt", "one of the run's own files"),
                         (tmp_path / "runs" / "bench" / "m.onnx", "inside the results folder"),
                         (run / "export" / "m.onnx", "inside the results folder"),
                         (tmp_path, "is a folder"),
                         (tmp_path / "m.onnx", "a .zip file")):
        with pytest.raises(ExportError, match=message):
            check_out(out, run, "bioimageio" if message == "a .zip file" else "onnx")
    assert check_out(tmp_path / "elsewhere" / "m.onnx", run, "onnx") == (tmp_path / "elsewhere" / "m.onnx").resolve()


def test_atomic_write_leaves_nothing_when_interrupted(tmp_path: Path) -> None:
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), _atomic(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    with _atomic(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_export_of_a_folder_without_a_model_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as info:
        export_run(tmp_path, "onnx", tmp_path / "m.onnx")
    assert "\n" not in str(info.value)
    with pytest.raises(ExportError, match="--format 'keras'"):
        export_run(tmp_path, "keras")
