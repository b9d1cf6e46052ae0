"""A finished torch run's model as ONNX, TorchScript or a BioImage.IO model package.

The exported network is the run's trained model with its preprocessing folded in
(:class:`Standardized`): it takes ``(B, C, H, W) float32`` pixel values on the stored scale (0-255
for uint8 data, 0-65535 for uint16) in the run's channel order at the run's resolution, subtracts
the train split's channel mean, divides by its standard deviation, and returns ``(B, K)``
probabilities (the sigmoid of the logits), as ``micro-bench predict --no-tta`` computes them. Test
time augmentation and thresholds are not part of the file: the run's thresholds are written beside
it (``<out>.json``) and into the BioImage.IO description.

Every export is checked after writing: the written file is loaded back (onnxruntime for ONNX,
``torch.jit.load`` for TorchScript, both for the package) and its outputs on the run's own
evaluation inputs (the first ``check_samples`` of the samples the run evaluated) must equal the
PyTorch model's within :data:`TOLERANCE`; otherwise the file is removed and the export fails.
Kill-safe: the file is written under a temporary name beside the target
(``.<name>.<pid>.*.part``), loaded back and checked there, and only then renamed to the target;
its description ``<out>.json`` (with the file's SHA-256) is written after it, and an earlier
description is removed just before the rename. So after a kill -9 at any point the target is
either absent, the earlier export, or the new checked file; a ``.json`` beside it always describes
it (same SHA-256); a file without its ``.json`` was interrupted before the description was
written (export again). The next export to the same path removes the temporary files a killed
one left.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench.results import sha256_file
from micro_bench_export.files import (
    TOLERANCE,
    ExportError,
    _atomic,
    _compare,
    _onnx,
    _run_onnx,
    _run_torchscript,
    _torchscript,
    clean_stale_parts,
)

__all__ = ["FORMATS", "MAX_CHECK_SAMPLES", "TOLERANCE", "ExportError", "Exported", "check_options", "check_out", "export_run"]

FORMATS = ("onnx", "torchscript", "bioimageio")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "bioimageio": ".zip"}


@dataclass
class Exported:
    """What :func:`export_run` wrote and how it was checked (``replaced``: an earlier file at
    ``path`` was replaced)."""

    path: Path
    format: str
    record: dict[str, Any] = field(default_factory=dict)
    replaced: bool = False


# --- the network with its preprocessing -------------------------------------------------------


def _standardized(net: Any, mean: np.ndarray, std: np.ndarray) -> Any:
    import torch
    from torch import nn

    class Standardized(nn.Module):
        """``(B, C, H, W)`` pixel values -> ``(B, K)`` probabilities: ``sigmoid(net((x - mean) / std))``."""

        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.net((x - self.mean) / self.std))

    return Standardized().eval()


def _rebuild(run_dir: Path, registries: Mapping[str, Any]) -> tuple[Any, np.ndarray, np.ndarray]:
    """The run's trained network (on the CPU, in eval mode) and the train split's channel mean and
    std it standardises with, loaded as ``micro-bench predict`` loads them (the trainer's ``load``)."""
    from micro_bench_predict.card import ModelCardError
    from micro_bench_predict.trained import load_trained

    try:
        trained = load_trained(run_dir, device="cpu", registries=registries)
    except ModelCardError as error:
        raise ExportError(str(error)) from None
    stats = getattr(trained.trainer, "stats", None)
    mean, std = (trained.mean, trained.std) if trained.mean is not None else (stats or (None, None))
    if mean is None or std is None:
        raise ExportError(f"{run_dir}: the run's trainer recorded no channel statistics; "
                          "cannot fold its standardisation into the export")
    return trained.model.cpu().eval(), np.asarray(mean, np.float64), np.asarray(std, np.float64)


# --- the run's evaluation inputs -------------------------------------------------------------


def _max_value(card: Mapping[str, Any]) -> float:
    return 65535.0 if str(card["input"].get("dtype", "uint8")) == "uint16" else 255.0


def evaluation_inputs(run_dir: Path, card: Mapping[str, Any], registries: Mapping[str, Any],
                      n: int) -> tuple[np.ndarray, str]:
    """The first ``n`` samples the run evaluated (``predictions.npz`` ids, read from the run's
    dataset) as ``(n, C, R, R)`` float32 pixel values, and where they came from. If the dataset
    cannot be opened here, seeded random pixel values of the run's shape and type (said so)."""
    channels, side = len(card["input"]["channels"]), int(card["input"]["resolution"])
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["run"]
        spec = dict(config["dataset"])
        name = spec.pop("name")
        params = spec.pop("params", spec)
        with np.load(run_dir / "predictions.npz") as pred:
            ids = [str(i) for i in pred["ids"][:n]]
        dataset = registries["dataset"].create(name, **params)
        index = {str(sid): i for i, sid in enumerate(dataset.ids)}
        rows = np.array([index[sid] for sid in ids], dtype=np.int64)
        lazy = dataset.images(rows)
        images = np.asarray(lazy.compute() if hasattr(lazy, "compute") else lazy)
        if images.shape[1:] != (channels, side, side):
            raise ValueError(f"images of shape {images.shape[1:]}, the model takes {(channels, side, side)}")
        return images.astype(np.float32), f"{len(rows)} samples the run evaluated ({config['evaluate'].get('split', 'val')} split of {name})"
    except Exception as error:  # noqa: BLE001 - fall back to random inputs, said so
        rng = np.random.default_rng(int(card["run"].get("seed") or 0))
        pixels = rng.integers(0, int(_max_value(card)) + 1, size=(n, channels, side, side)).astype(np.float32)
        reason = " ".join(str(error).split())[:160]
        return pixels, f"{n} random inputs (the run's dataset could not be read here: {type(error).__name__}: {reason})"


# --- writing ---------------------------------------------------------------------------------


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    with _atomic(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _inside_results(path: Path) -> Path | None:
    """The run or benchmark folder ``path`` would land in (a folder holding ``result.json`` or
    ``index.json``) or the data store (a folder holding ``zarr.json``, ``.zgroup`` or ``.zarray``),
    else ``None``."""
    for folder in [path.parent, *path.parent.parents]:
        if any((folder / name).is_file() for name in ("result.json", "index.json", "zarr.json", ".zgroup", ".zarray")):
            return folder
    return None


def check_out(out: Path, run_dir: Path, fmt: str) -> Path:
    """``out`` resolved, or a one-line :class:`ExportError` when it would write into a runs
    folder's results or a data store, over one of the export's inputs, with another format's
    suffix, over something that is not a regular file, or where nothing can be written."""
    try:
        resolved = out.expanduser().resolve()
    except (OSError, RuntimeError) as error:  # a symlink loop
        raise ExportError(f"--out {out}: cannot be resolved ({error})") from None
    if resolved.is_dir():
        raise ExportError(f"--out {out}: is a folder; give a file name (e.g. {out / ('model' + SUFFIX[fmt])})")
    sidecar = resolved.with_name(resolved.name + ".json")
    for path in (resolved, sidecar):
        if path.exists() and not path.is_file():
            raise ExportError(f"--out {out}: {path} exists and is not a regular file")
    inputs = {p.resolve() for p in run_dir.rglob("*") if p.is_file()}
    if resolved in inputs or sidecar in inputs:
        raise ExportError(f"--out {out}: is one of the run's own files; write the export elsewhere")
    folder = _inside_results(resolved)
    if folder is not None:
        raise ExportError(f"--out {out}: inside the results folder or data store {folder} (micro-bench owns it); "
                          "write the export elsewhere")
    if fmt == "bioimageio" and resolved.suffix != ".zip":
        raise ExportError(f"--out {out}: a BioImage.IO package is a .zip file; name it {resolved.with_suffix('.zip').name}")
    other = {suffix: name for name, suffix in SUFFIX.items() if name != fmt and suffix != SUFFIX[fmt]}
    if resolved.suffix.lower() in other:
        raise ExportError(f"--out {out}: {resolved.suffix} is the suffix of a {other[resolved.suffix.lower()]} export, "
                          f"this is {fmt}; name it {resolved.with_suffix(SUFFIX[fmt]).name}")
    existing = next(p for p in [resolved.parent, *resolved.parent.parents] if p.exists())
    if not existing.is_dir():
        raise ExportError(f"--out {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"--out {out}: cannot write in {existing} (permission denied)")
    if len(resolved.name.encode()) > 200:
        raise ExportError(f"--out {out}: the file name is {len(resolved.name.encode())} bytes long; at most 200")
    return resolved


#: The most evaluation samples an export is checked on (``--check-samples``).
MAX_CHECK_SAMPLES = 1024


def check_options(fmt: Any, check_samples: Any = 16, license: Any = None) -> None:
    """A one-line :class:`ExportError` naming the option for a bad ``--format``, ``--check-samples``
    (an integer 1..:data:`MAX_CHECK_SAMPLES`) or ``--license`` (an SPDX id bioimageio.spec knows,
    only for bioimageio); nothing is read or written."""
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if (isinstance(check_samples, bool) or not isinstance(check_samples, int)
            or not 1 <= check_samples <= MAX_CHECK_SAMPLES):
        raise ExportError(f"--check-samples {check_samples!r}: expected an integer from 1 to {MAX_CHECK_SAMPLES}")
    if license is None:
        return
    if not isinstance(license, str):
        raise ExportError(f"--license {license!r}: expected an SPDX licence id (a string, e.g. CC-BY-4.0)")
    if fmt != "bioimageio":
        raise ExportError(f"--license {license!r}: only a bioimageio package records a licence")
    from bioimageio.spec.model import v0_5 as bio

    try:
        bio.LicenseId(license)
    except ValueError:  # pydantic's ValidationError is a ValueError
        raise ExportError(f"--license {license!r}: not an SPDX licence id bioimageio.spec knows "
                          "(e.g. CC-BY-4.0, MIT, BSD-3-Clause)") from None


def export_run(run_dir: str | Path, fmt: str, out: str | Path | None = None, *, check_samples: int = 16,
               registries: Mapping[str, Any] | None = None, license: str | None = None) -> Exported:
    """Export the model of the finished torch run ``run_dir`` as ``fmt`` (one of :data:`FORMATS`)
    to ``out`` (default ``./<benchmark>-<label><suffix>``), checked as the module docstring says.

    Raises:
        ExportError: a bad option, a run without a torch model, an output path inside a results
            folder, or an export whose outputs differ from the run's model.
    """
    import torch

    from micro_bench_predict.card import ModelCardError, check_card_fits, read_card

    check_options(fmt, check_samples, license)
    run_dir = Path(run_dir)
    try:
        card = read_card(run_dir)
    except ModelCardError as error:
        raise ExportError(str(error)) from None
    if not isinstance(card.get("kind"), str) or card["kind"] != "torch":
        raise ExportError(f"{run_dir}: a {card['kind']!r} model; only torch models can be exported "
                          "(ONNX, TorchScript, BioImage.IO)")
    if registries is None:
        from micro_bench.host import Host

        registries = Host.load().registries
    label = "".join(c if c.isalnum() or c in "-_." else "_" for c in (card["run"].get("label") or card["run"]["key"]))
    target = Path(out) if out is not None else Path(f"{card['run']['benchmark']}-{label}{SUFFIX[fmt]}")
    target = check_out(target, run_dir, fmt)
    # the train split's statistics are on the stored scale, as the exported input is
    net, mean, std = _rebuild(run_dir, registries)
    module = _standardized(net, mean, std)
    inputs, source = evaluation_inputs(run_dir, card, registries, check_samples)
    with torch.no_grad():
        reference = module(torch.from_numpy(inputs)).numpy()
    # load_trained checked the card against the network (check_card_fits) where a meta-device pass
    # could tell; the real outputs settle it
    try:
        check_card_fits(run_dir, card, int(reference.shape[1]) if reference.ndim == 2 else -1)
    except ModelCardError as error:
        raise ExportError(str(error)) from None
    example = torch.from_numpy(inputs[:2])
    record: dict[str, Any] = {
        "format": fmt, "file": target.name, "run": dict(card["run"]), "model": dict(card["model"]),
        "input": {"name": "image", "shape": ["batch", len(card["input"]["channels"]), card["input"]["resolution"],
                                             card["input"]["resolution"]],
                  "dtype": "float32", "channels": list(card["input"]["channels"]),
                  "scale": f"pixel values 0-{int(_max_value(card))} (the stored {card['input'].get('dtype', 'uint8')})"},
        "output": {"name": "probabilities", "shape": ["batch", len(card["classes"])], "classes": list(card["classes"]),
                   "meaning": "sigmoid probabilities; TTA not included"},
        "preprocessing": {"folded_in": True, "mean": mean.tolist(), "std": std.tolist(),
                          "formula": "(x - mean) / std per channel, then the network, then sigmoid"},
        "thresholds": dict(card.get("thresholds") or {}),
        "check": {"inputs": source, "tolerance": TOLERANCE},
    }
    sidecar = target.with_name(target.name + ".json")
    for stale in (target, sidecar):
        clean_stale_parts(stale)
    replaced = target.exists()
    # write and check under a temporary name; remove an earlier description just before the rename,
    # write the new one after it: a description beside the file always describes it
    try:
        _write_export(fmt, module, example, inputs, reference, card, record, target, sidecar, run_dir, license)
    except OSError as error:
        raise ExportError(f"--out {target}: cannot write ({error.strerror or error})") from None
    return Exported(target, fmt, record, replaced)


def _write_export(fmt: str, module: Any, example: Any, inputs: np.ndarray, reference: np.ndarray,
                  card: Mapping[str, Any], record: dict[str, Any], target: Path, sidecar: Path, run_dir: Path,
                  license: str | None) -> None:
    with _atomic(target, before_replace=lambda: sidecar.unlink(missing_ok=True)) as tmp:
        if fmt == "onnx":
            record.update(_onnx(module, example, tmp))
            record["check"]["max_abs_diff"] = _compare("ONNX", _run_onnx(tmp, inputs), reference, target)
        elif fmt == "torchscript":
            record.update(_torchscript(module, example, tmp))
            record["check"]["max_abs_diff"] = _compare("TorchScript", _run_torchscript(tmp, inputs), reference, target)
        else:
            from micro_bench_export.bioimageio import write_package

            record.update(write_package(module, example, inputs, reference, card, record, target, run_dir, license,
                                        into=tmp))
        record["sha256"], record["bytes"] = sha256_file(tmp), tmp.stat().st_size
    _write_json(sidecar, record)


def package_members(path: Path) -> list[str]:
    """The names inside a package zip (for messages and tests)."""
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()
