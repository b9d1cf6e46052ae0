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
    if value is not None:
        if not 0 <= value <= 1:  # nan included
            raise ModelCardError(f"--threshold {rule}: expected a number in [0, 1], tuned, prevalence or a file")
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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelCardError(f"{path}: cannot read the thresholds ({type(exc).__name__}: {exc})") from None
    if path.suffix.lower() == ".json":
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise ModelCardError(f"{path}: not valid JSON ({exc})") from None
        data = data.get("thresholds", data) if isinstance(data, dict) else data
        data = data.get("values", data) if isinstance(data, dict) else data
        values = _numbers(data, path, k)
    else:
        import csv

        rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
        if rows and rows[0][0].strip().lower() in ("class", "name"):
            rows = rows[1:]
        by_name = {r[0].strip(): r[-1] for r in rows}
        missing = [c for c in classes if c not in by_name]
        if missing:
            raise ModelCardError(f"{path}: no threshold for class(es) {', '.join(missing)} (rows: class,threshold)")
        values = _numbers([by_name[c].strip() for c in classes], path, k, classes, text=True)
    if values.shape != (k,) or not np.isfinite(values).all():
        raise ModelCardError(f"{path}: expected {k} finite thresholds, got shape {values.shape}")
    outside = [i for i, v in enumerate(values) if not 0 <= v <= 1]
    if outside:
        raise ModelCardError(f"{path}: threshold {values[outside[0]]:g} of class {classes[outside[0]]!r} is outside [0, 1]")
    return f"from {path}", values


def _numbers(data: Any, path: Path, k: int, classes: list[str] | None = None, *, text: bool = False) -> np.ndarray:
    """``data`` as a ``(k,) float`` array: a one-line error naming the first entry that is not a
    number (strings are numbers only in a CSV)."""
    if not isinstance(data, list) or len(data) != k:
        shape = f"{len(data)} entries" if isinstance(data, list) else type(data).__name__
        raise ModelCardError(f"{path}: expected a list of {k} thresholds (one per class), got {shape}")
    out = []
    for i, v in enumerate(data):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if text and isinstance(v, str):
            try:
                v, ok = float(v), True
            except ValueError:
                ok = False
        if not ok:
            where = f"class {classes[i]!r}" if classes else f"entry {i}"
            raise ModelCardError(f"{path}: the threshold of {where} is {v!r}, expected a number in [0, 1]")
        out.append(float(v))
    return np.asarray(out, dtype=float)
