"""Evaluation is not training: a run that differs from a finished one only in how it is evaluated
reuses that run's trained model instead of training it again.

The run key hashes the whole run config (:func:`micro_bench.build.run_key`); the *training key*
hashes it without :data:`EVALUATION_KEYS` (``evaluate``: the evaluated split, the threshold rule,
intervals; ``metrics``). ``--set evaluate.split=test`` on a finished benchmark therefore gets new
run keys (its own results) whose training keys are those of the finished runs: each new run loads
the finished run's model (its trainer's ``load``, from ``<run>/model``) and only predicts and
scores. A trainer without ``save``/``load``, or ``--force``, trains as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from micro_bench.build import key_of
from micro_bench.config import Component, RunConfig
from micro_bench.runfolder import MODEL_FOLDER

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.registry import Registry

__all__ = ["EVALUATION_KEYS", "find_trained", "for_loading", "training_key"]

#: Run settings that only say how a trained model is scored: not part of the training key.
EVALUATION_KEYS: tuple[str, ...] = ("evaluate", "metrics")


def training_key(run: Mapping[str, Any], fingerprint: str, version: str,
                 distributions: Mapping[str, str] | None) -> str:
    """:func:`~micro_bench.build.key_of` of a run config (``RunConfig.to_dict()``, or a recorded
    ``config.json``'s ``run``) without its :data:`EVALUATION_KEYS`."""
    return key_of({k: v for k, v in run.items() if k not in EVALUATION_KEYS}, fingerprint, version, distributions)


def _recorded_training_key(config: Mapping[str, Any]) -> str | None:
    """The training key a run folder's ``config.json`` records (or implies, for older folders)."""
    if isinstance(config.get("training_key"), str):
        return str(config["training_key"])
    try:
        return training_key(config["run"], config["dataset_fingerprint"], config["version"],
                            config.get("distributions"))
    except (KeyError, TypeError, AttributeError):
        return None


def find_trained(benchmark_dir: Path, train_key: str, *, exclude: str) -> Path | None:
    """A finished run folder under ``benchmark_dir`` (``<out>/<benchmark>``) with training key
    ``train_key`` and a saved model, other than ``exclude``; ``None`` when there is none.
    ``result.json`` is written after the model (the runner saves it first), so a folder with both
    holds a complete model."""
    for config_file in sorted(Path(benchmark_dir).glob("*/config.json")):
        folder = config_file.parent
        if folder.name == exclude or not (folder / "result.json").is_file() or not (folder / MODEL_FOLDER).is_dir():
            continue
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(config, dict) and _recorded_training_key(config) == train_key:
            return folder
    return None


def for_loading(cfg: RunConfig, models: Registry) -> RunConfig:
    """``cfg`` with ``pretrained: false`` on a model factory that takes it: the saved weights
    replace any initialisation, so none is downloaded."""
    params = dict(cfg.model.params)
    if "pretrained" not in params and not models.accepts(cfg.model.name, "pretrained"):
        return cfg
    params["pretrained"] = False
    return cfg.with_components(model=Component(cfg.model.name, params))
