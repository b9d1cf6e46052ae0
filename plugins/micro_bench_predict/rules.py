"""Threshold rules at prediction time: the run's own, a constant, the run's ``tuned`` or
``prevalence`` thresholds (fitted on its validation predictions, kept in ``model.json``), or a
file. Labels are then decided by :func:`micro_bench_metrics.thresholds.apply_thresholds`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_predict.card import ModelCardError

__all__ = ["parse_threshold"]


def parse_threshold(rule: Any, card: Mapping[str, Any]) -> tuple[str, np.ndarray]:
    """``(description, (K,) thresholds)`` for ``rule``: ``None`` (the run's), a number, ``"tuned"``,
    ``"prevalence"``, or a file (JSON list / ``{"values": [...]}`` / a result.json, or a CSV of
    ``class,threshold`` rows naming every class)."""
    classes = list(card["classes"])
    k = len(classes)
    if rule is None or rule == "run":
        t = card["thresholds"]
        return f"the run's ({t.get('description') or t.get('rule')})", np.asarray(t["values"], float)
    try:
        value = float(rule)
    except (TypeError, ValueError):
        value = None
    if value is not None and np.isfinite(value):
        return f"constant {value:g}", np.full(k, value)
    if rule in ("tuned", "prevalence"):
        choices = card.get("threshold_choices", {})
        if rule not in choices:
            raise ModelCardError(
                f"threshold {rule!r}: the run did not keep validation predictions to fit it on (it evaluated "
                f"{card['run'].get('label')!r} on another split); use 0.5, the run's own rule, or a file")
        return f"{rule} on the run's validation predictions", np.asarray(choices[rule], float)
    return _threshold_file(Path(str(rule)), classes)


def _threshold_file(path: Path, classes: list[str]) -> tuple[str, np.ndarray]:
    k = len(classes)
    if not path.is_file():
        raise ModelCardError(f"--threshold {path}: expected 0.5 (a number), tuned, prevalence or an existing file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data: Any = json.loads(text)
        data = data.get("thresholds", data) if isinstance(data, dict) else data
        data = data.get("values", data) if isinstance(data, dict) else data
        values = np.asarray(data, dtype=float)
    else:
        import csv

        rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
        if rows and rows[0][0].strip().lower() in ("class", "name"):
            rows = rows[1:]
        by_name = {r[0].strip(): r[-1] for r in rows}
        missing = [c for c in classes if c not in by_name]
        if missing:
            raise ModelCardError(f"{path}: no threshold for class(es) {', '.join(missing)} (rows: class,threshold)")
        values = np.asarray([float(by_name[c]) for c in classes])
    if values.shape != (k,) or not np.isfinite(values).all():
        raise ModelCardError(f"{path}: expected {k} finite thresholds, got shape {values.shape}")
    return f"from {path}", values
