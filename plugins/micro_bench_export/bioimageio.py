"""A BioImage.IO model package (format 0.5) of a finished run, validated offline.

The zip holds ``rdf.yaml`` (the model description), the network twice (TorchScript and ONNX, the
weight formats deepImageJ, ilastik and bioimageio.core run), a test input and its expected output
(``.npy``: the first evaluation samples of the run and the model's probabilities on them), a
README with the channel and class names, the thresholds and how the model was trained, the
training data's description and the paper's citation.

Offline: ``bioimageio.spec`` is asked to read nothing from the network. The description has no
URL to check (the citation is text; the training data is described inline, not linked by id), the
package is written with ``local_files_only`` and validated with ``load_description(...,
perform_io_checks=True)`` (hashes of every file in the zip) under ``BIOIMAGEIO_CACHE_PATH`` in a
temporary folder, so no user cache is touched.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from micro_bench_export.files import (
    PAPER,
    ExportError,
    _atomic,
    _compare,
    _onnx,
    _run_onnx,
    _run_torchscript,
    _torchscript,
)

__all__ = ["validate_package", "write_package"]


def _identifier(name: str, used: set[str]) -> str:
    """A BioImage.IO identifier for a channel or class name (letters, digits, ``_``, ``-``)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_") or "c"
    if not base[0].isalpha():
        base = f"c_{base}"
    ident, n = base, 2
    while ident in used:
        ident, n = f"{base}_{n}", n + 1
    used.add(ident)
    return ident


def _readme(card: Mapping[str, Any], record: Mapping[str, Any], dataset: str) -> str:
    classes = "\n".join(f"| {i} | {name} |" for i, name in enumerate(card["classes"]))
    thresholds = card.get("thresholds") or {}
    values = thresholds.get("values")
    rule = thresholds.get("rule", "0.5")
    mean = ", ".join(f"{v:.4g}" for v in record["preprocessing"]["mean"])
    std = ", ".join(f"{v:.4g}" for v in record["preprocessing"]["std"])
    return f"""# {card['model']['name']} trained by micro-bench (run {card['run'].get('label') or card['run']['key']})

Multi-label classification of {len(card['input']['channels'])}-channel microscopy images
({', '.join(card['input']['channels'])}) into {len(card['classes'])} protein localisation classes,
trained with the recipe of Zhao & Tang, "Predicting Protein Organelle Localization with Transfer
Learning" (micro-bench benchmark `{card['run']['benchmark']}`, run key `{card['run']['key']}`).

## Input

`image`: float32 `(batch, {len(card['input']['channels'])}, {card['input']['resolution']}, {card['input']['resolution']})`,
channels in this order: {', '.join(card['input']['channels'])}; {record['input']['scale']}. The
network standardises each channel itself with the training split's statistics
(mean {mean}; std {std}): give it the raw pixel values.

## Output

`probabilities`: float32 `(batch, {len(card['classes'])})`, the sigmoid probability of each class
(no test-time augmentation). The run's thresholds (rule `{rule}`) turn them into labels:
{json.dumps(values) if values is not None else '0.5 for every class'}.

| index | class |
| --- | --- |
{classes}

## Training data

{dataset}

## Validation

micro-bench checked both weight files after writing them: their probabilities on
{record['check']['inputs']} equal the PyTorch model's within {record['check']['tolerance']:g}
(onnxruntime for ONNX, `torch.jit.load` for TorchScript); `bioimageio.spec` validated this package
offline. The run's own scores are in its `result.json`.

## Training

micro-bench's torch trainer: {json.dumps(card['trainer']['params'])}; model parameters
{json.dumps(card['model']['params'])}.
"""


HPA_DATASETS = ("hpa", "hpa_synth")  # their labels (and hpa's images) are the Human Protein Atlas's
HPA_LICENSE = "CC-BY-SA-3.0"


def _dataset_text(run_dir: Path, card: Mapping[str, Any]) -> tuple[str, str]:
    """(name, description) of the training data from the run's config."""
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["run"]
        spec = dict(config["dataset"])
        split = config.get("split") or {}
    except (OSError, ValueError, KeyError):
        spec, split = {"name": "unknown"}, {}
    name = str(spec.pop("name", "unknown"))
    params = spec.pop("params", spec)
    stats = card.get("statistics", {})
    synthetic = "synth" in name
    text = (f"micro-bench dataset `{name}` ({', '.join(f'{k}={v}' for k, v in params.items()) or 'defaults'}), "
            f"{'synthetic HPA-like cells, not the paper data; ' if synthetic else ''}"
            f"the model was trained on its train split ({json.dumps(split) if split else 'the default split'}); "
            f"channel statistics over {stats.get('over', 'train')}.")
    return name, text


def write_package(module: Any, example: Any, inputs: np.ndarray, reference: np.ndarray,
                  card: Mapping[str, Any], record: dict[str, Any], target: Path, run_dir: Path,
                  license: str | None = None, *, into: Path | None = None) -> dict[str, Any]:
    """Write the package zip to ``into`` (the caller's temporary file, renamed to ``target`` once
    checked; default: ``target`` itself, atomically), validate it offline and check both weights
    against ``reference``; returns what goes into the export's record. ``license`` is the
    model's SPDX licence id (none unless given: the licence of a trained model is its owner's call);
    the training data's licence is stated only for the HPA-derived datasets (HPA's CC BY-SA 3.0)."""
    with tempfile.TemporaryDirectory(prefix="micro-bench-bioimageio-") as work:
        folder = Path(work)
        cache = os.environ.get("BIOIMAGEIO_CACHE_PATH")
        os.environ["BIOIMAGEIO_CACHE_PATH"] = cache or str(folder / "cache")
        try:
            if into is not None:
                return _write(module, example, inputs, reference, card, record, target, run_dir, folder, license, into)
            with _atomic(target) as tmp:
                return _write(module, example, inputs, reference, card, record, target, run_dir, folder, license, tmp)
        finally:
            if cache is None:
                os.environ.pop("BIOIMAGEIO_CACHE_PATH", None)


def _write(module: Any, example: Any, inputs: np.ndarray, reference: np.ndarray, card: Mapping[str, Any],
           record: dict[str, Any], target: Path, run_dir: Path, folder: Path,
           license: str | None, into: Path) -> dict[str, Any]:
    import torch
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5 as bio

    onnx_info = _onnx(module, example, folder / "weights.onnx")
    _torchscript(module, example, folder / "weights_torchscript.pt")
    test_in, test_out = inputs[:1], reference[:1]
    np.save(folder / "test_input.npy", test_in)
    np.save(folder / "test_output.npy", test_out)
    diffs = {"onnx": _compare("ONNX", _run_onnx(folder / "weights.onnx", inputs), reference, target),
             "torchscript": _compare("TorchScript", _run_torchscript(folder / "weights_torchscript.pt", inputs),
                                     reference, target)}
    data_name, data_text = _dataset_text(run_dir, card)
    readme = folder / "README.md"
    readme.write_text(_readme(card, record, data_text), encoding="utf-8")
    used: set[str] = set()
    channel_ids = [_identifier(c, used) for c in card["input"]["channels"]]
    used = set()
    class_ids = [_identifier(c, used) for c in card["classes"]]
    side = int(card["input"]["resolution"])
    authors = [bio.Author(name="micro-bench")]
    cite = [bio.CiteEntry(text=PAPER["text"], url=bio.HttpUrl(PAPER["url"]))]
    label = card["run"].get("label") or card["run"]["key"]
    descr = bio.ModelDescr(
        name=f"micro-bench {card['run']['benchmark']} {label}"[:128],
        description=(f"{card['model']['name']} multi-label classifier of {len(channel_ids)}-channel "
                     f"microscopy images into {len(class_ids)} classes (micro-bench run {card['run']['key']})"),
        authors=authors, cite=cite, license=bio.LicenseId(license) if license else None,
        documentation=bio.FileDescr(source=readme),
        tags=["classification", "multi-label", "protein-localization", "microscopy", "micro-bench"],
        inputs=[bio.InputTensorDescr(
            id=bio.TensorId("image"),
            description=f"pixel values ({record['input']['scale']}), channels {', '.join(card['input']['channels'])}"[:128],
            axes=[bio.BatchAxis(), bio.ChannelAxis(channel_names=[bio.Identifier(c) for c in channel_ids]),
                  bio.SpaceInputAxis(id=bio.AxisId("y"), size=side), bio.SpaceInputAxis(id=bio.AxisId("x"), size=side)],
            test_tensor=bio.FileDescr(source=folder / "test_input.npy"),
            data=bio.IntervalOrRatioDataDescr(type="float32"),
        )],
        outputs=[bio.OutputTensorDescr(
            id=bio.TensorId("probabilities"),
            description="sigmoid probability per class (class names: README, config.micro_bench.classes)",
            axes=[bio.BatchAxis(), bio.ChannelAxis(channel_names=[bio.Identifier(c) for c in class_ids])],
            test_tensor=bio.FileDescr(source=folder / "test_output.npy"),
            data=bio.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)),
        )],
        weights=bio.WeightsDescr(
            torchscript=bio.TorchscriptWeightsDescr(source=folder / "weights_torchscript.pt",
                                                    pytorch_version=bio.Version(torch.__version__.split("+")[0])),
            onnx=bio.OnnxWeightsDescr(source=folder / "weights.onnx", opset_version=int(onnx_info["opset"]),
                                      parent="torchscript",
                                      comment="exported from the same PyTorch module as the TorchScript weights"),
        ),
        training_data=bio.DatasetDescr(name=data_name, description=data_text, authors=authors, cite=cite,
                                       license=bio.LicenseId(HPA_LICENSE) if data_name in HPA_DATASETS else None,
                                       tags=["microscopy"]),
        config=cast(Any, {"micro_bench": {"run": dict(card["run"]), "classes": list(card["classes"]),
                                "channels": list(card["input"]["channels"]),
                                "thresholds": dict(card.get("thresholds") or {}),
                                "preprocessing": record["preprocessing"]}}),
    )
    zipped = Path(str(into) + ".zip")  # save_bioimageio_package wants the suffix
    try:
        save_bioimageio_package(descr, output_path=zipped, local_files_only=True)
        os.replace(zipped, into)
    finally:
        zipped.unlink(missing_ok=True)
    summary = validate_package(into)
    return {"opset": onnx_info["opset"], "exporter": onnx_info["exporter"],
            "check": {**record["check"], "max_abs_diff": max(diffs.values()), "by_weights": diffs},
            "bioimageio": summary}


def validate_package(path: Path) -> dict[str, Any]:
    """Validate a package zip with ``bioimageio.spec`` (io checks on: every file's hash) without
    the network; a one-line :class:`ExportError` with the first problem when it is not valid."""
    from bioimageio.spec import __version__ as spec_version
    from bioimageio.spec import load_description

    descr = load_description(str(path), perform_io_checks=True)
    summary = descr.validation_summary
    if summary.status not in ("passed", "valid-format"):
        errors = [f"{'.'.join(map(str, e.loc))}: {e.msg}" for d in summary.details for e in d.errors]
        raise ExportError(f"{path}: bioimageio.spec {spec_version} finds the package invalid: "
                          + ("; ".join(errors[:3]) or summary.status))
    return {"status": summary.status, "format_version": str(getattr(descr, "format_version", "")),
            "validator": f"bioimageio.spec {spec_version}"}
