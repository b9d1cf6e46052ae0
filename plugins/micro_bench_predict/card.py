"""``model.json``: everything prediction needs from a finished run, beside the trained model.

A finished run whose trainer saves its model (the optional ``Trainer.save``/``load`` pair, see
docs/hooks.md) keeps, in ``<run>/model/``:

* the files the trainer's ``save`` wrote (the bundled ``torch`` trainer: ``model.pt``, read with
  ``torch.load(weights_only=True)``; ``sklearn``: ``model.skops`` (skops, scikit-learn and numpy
  types only: never a pickle) and ``stats.json``);
* ``model.json`` (this module), format ``micro-bench/model`` version :data:`FORMAT_VERSION`::

    format, format_version, micro_bench_version, kind (the trainer's name),
    files {name: {bytes, sha256}} (every file the trainer saved),
    run {benchmark, label, key, seed},
    model {name, params (every factory argument, defaults included), num_classes, in_chans, head},
    trainer {name, params}, tta {name, params} | null, transform {name, params} | null (the
      training augmentation, which the ``random`` TTA policy draws its views with),
    input {channels (order), resolution, dtype ("uint8"; "uint16" from a 16-bit store), layout "NCHW",
           files (the store's source layout, when it was converted from one: pattern, fit, ...)},
    statistics {mean, std (per channel, 0-255 scale; 0-65535 for uint16), over "train", split {fractions, seed}} | null
      (from the trainer's ``history["channel_stats"]`` when it records them),
    classes [K names],
    thresholds {rule, description, fitted_on, values [K]},
    threshold_choices {"0.5" | "tuned" | "prevalence": [K]} (fitted on the run's validation
      predictions when the run evaluated the validation split)

The card is written by the ``micro_bench_run_end`` hook of this plugin from the run's config, its
result and the model folder. Imports only the standard library and numpy.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from micro_bench.errors import MicroBenchError
from micro_bench.results import sha256_file

__all__ = ["CARD_FILE", "FORMAT", "FORMAT_VERSION", "ModelCardError", "build_card", "check_card_fits",
           "model_folder", "read_card", "sha256_file", "write_card"]

FORMAT = "micro-bench/model"
#: Bump when a reader of the previous version would misread a card; older cards are refused.
FORMAT_VERSION = 2
CARD_FILE = "model.json"


def model_folder(directory: str | Path) -> Path:
    """The model folder of run ``directory`` (what the trainer's ``save`` wrote, and the card)."""
    from micro_bench.runfolder import MODEL_FOLDER

    return Path(directory) / MODEL_FOLDER


class ModelCardError(MicroBenchError, ValueError):
    """A run directory without a usable model (missing, older format, damaged weights)."""


def _bound_params(registry: Any, name: str, params: Mapping[str, Any], injected: Mapping[str, Any]) -> dict[str, Any]:
    """The factory's arguments with defaults filled in (so a later change of a default does not
    change the rebuilt architecture); injected ones (num_classes, in_chans) left out."""
    try:
        signature = inspect.signature(registry.load(name))
        bound = signature.bind_partial(**params, **injected)
        bound.apply_defaults()
        full = dict(bound.arguments)
    except (TypeError, ValueError):
        full = dict(params)
    out = {k: v for k, v in full.items() if k not in injected}
    try:
        json.dumps(out)
    except TypeError:
        out = dict(params)  # a default that is not plain data: keep what the config said
    return out


def _choices(directory: Path, run_cfg: Mapping[str, Any], num_classes: int) -> dict[str, list[float]]:
    """Thresholds for each rule, fitted on the run's validation predictions when it saved them."""
    import numpy as np

    from micro_bench_metrics.thresholds import DEFAULT_THRESHOLD, fit_thresholds

    out = {str(DEFAULT_THRESHOLD): [DEFAULT_THRESHOLD] * num_classes}
    path = directory / "predictions.npz"
    if run_cfg.get("evaluate", {}).get("split") != "val" or not path.is_file():
        return out
    with np.load(path, allow_pickle=False) as data:
        y_true, y_score = data["y_true"], data["y_score"]
    if len(y_true):
        for rule in ("tuned", "prevalence"):
            out[rule] = [float(v) for v in fit_thresholds(rule, y_true, y_score)]
    return out


def _component(comp: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if not comp else {"name": comp["name"], "params": {k: v for k, v in comp.items() if k != "name"}}


def build_card(directory: Path, run: Mapping[str, Any], result: Any, registries: Mapping[str, Any]) -> dict[str, Any]:
    """The card of the finished run in ``directory`` (``run``: the resolved run config as a dict)."""
    from micro_bench._version import __version__

    folder = model_folder(directory)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CARD_FILE and not p.name.startswith("."))
    if not files:
        raise ModelCardError(f"{folder}: the trainer saved no files")
    dataset = dict(result.dataset)
    classes = list(dataset.get("class_names") or [])
    channels = list(dataset.get("channels") or [])
    if not classes or not channels:
        raise ModelCardError(f"{directory}: the result lacks class names or channels")
    stats = (result.history or {}).get("channel_stats")
    injected = {"num_classes": len(classes), "in_chans": len(channels)}
    dtype = str(dataset.get("dtype", "uint8"))
    from micro_bench.build import model_extra

    model = run["model"]
    given = {k: v for k, v in model.items() if k != "name"}
    given.update(model_extra(registries["model"], model["name"], given, int(run.get("seed", 0))))
    params = _bound_params(registries["model"], model["name"], given, injected)
    trainer, tta, transform = run["trainer"], run.get("tta"), run.get("transform")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "micro_bench_version": __version__,
        "kind": trainer["name"],
        "files": {p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files},
        "run": {"benchmark": run.get("benchmark"), "label": run.get("label"), "key": result.key,
                "seed": run.get("seed", 0)},
        "model": {"name": model["name"], "params": params, **injected, "head": params.get("head")},
        "trainer": {"name": trainer["name"], "params": {k: v for k, v in trainer.items() if k != "name"}},
        "tta": _component(tta),
        "transform": _component(transform),
        "input": {"channels": channels, "resolution": int(dataset["resolution"]), "dtype": dtype,
                  "layout": "NCHW", **({"files": dataset["layout"]} if dataset.get("layout") else {})},
        "statistics": None if not stats else {
            "mean": [float(v) for v in stats["mean"]], "std": [float(v) for v in stats["std"]],
            "scale": "0-255" if dtype == "uint8" else "0-65535", "over": "train",
            "split": {k: run.get("split", {}).get(k) for k in ("fractions", "seed")}},
        "classes": classes,
        "thresholds": dict(result.thresholds),
        "threshold_choices": _choices(directory, run, len(classes)),
    }


def write_card(directory: Path, card: Mapping[str, Any]) -> Path:
    from micro_bench.results import write_json

    path = model_folder(directory) / CARD_FILE
    write_json(path, card)
    return path


def _trainer_name(directory: Path) -> str | None:
    try:
        return str(json.loads((directory / "config.json").read_text(encoding="utf-8"))["run"]["trainer"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_card(directory: str | Path) -> dict[str, Any]:
    """The card of run ``directory``, checked: format, version, every saved file present and unchanged."""
    directory = Path(directory)
    path = model_folder(directory) / CARD_FILE
    if not path.is_file():
        if not (directory / "result.json").is_file():
            raise ModelCardError(f"{directory}: not a finished run (no result.json); pass a run directory "
                                 "runs/<benchmark>/<key>, or a benchmark's runs directory with --run LABEL")
        trainer = _trainer_name(directory)
        raise ModelCardError(
            f"{path}: missing. The run kept no model to predict with: its trainer {trainer!r} does not save "
            "models (it has no save/load methods, see docs/writing-plugins.md), or the run was made before "
            "micro-bench saved models this way; rerun it with --force")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelCardError(f"{path}: unreadable ({error})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelCardError(f"{path}: not a micro-bench model card (format {FORMAT!r} expected)")
    version = card.get("format_version")
    if version != FORMAT_VERSION:
        age = "an older" if isinstance(version, int) and version < FORMAT_VERSION else "another"
        raise ModelCardError(
            f"{path}: model format version {version!r} was written by {age} micro-bench "
            f"({card.get('micro_bench_version', '?')}); this one reads version {FORMAT_VERSION}. "
            "Rerun the benchmark row with --force to save the model in the current format")
    files = card.get("files")
    if not isinstance(files, dict) or not files:
        raise ModelCardError(f"{path}: lists no model files")
    for name, meta in files.items():
        if Path(name).name != name or name in (".", "..", CARD_FILE):
            raise ModelCardError(f"{path}: kind {card.get('kind')!r} with file {name!r}; model files must be "
                                 f"plain file names inside {path.parent}")
        weights = path.parent / name
        if not weights.is_file():
            raise ModelCardError(f"{weights}: the file named in {path} is missing")
        if sha256_file(weights) != meta.get("sha256"):
            raise ModelCardError(f"{weights}: contents differ from the sha256 recorded in {path} (damaged or replaced)")
    return card


def check_card_fits(directory: str | Path, card: Mapping[str, Any], outputs: int | None,
                    channels: int | None = None) -> None:
    """A one-line :class:`ModelCardError` naming ``<run>/model/model.json`` when its class list
    does not have the ``outputs`` the loaded model gives per image, or its channel list not the
    ``channels`` the model takes (``None``: not known, not checked). Shared by ``predict``
    (:func:`micro_bench_predict.trained.load_trained`) and ``export``."""
    path = model_folder(directory) / CARD_FILE
    classes = len(card["classes"])
    if outputs is not None and outputs != classes:
        raise ModelCardError(f"{path}: lists {classes} classes but the model gives {outputs} outputs per image; "
                             "the card was edited or belongs to another model (rerun the benchmark row with --force)")
    listed = len(card["input"]["channels"])
    if channels is not None and channels != listed:
        raise ModelCardError(f"{path}: lists {listed} input channels but the model takes {channels}; "
                             "the card was edited or belongs to another model (rerun the benchmark row with --force)")
