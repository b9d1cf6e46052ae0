"""What made a table, for every format to say: dataset, profile, model(s), whether the paper's
numbers beside ours were measured on this data, whether the results are stale, and the caption
(ours, not the paper's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["NOT_PAPER_DATA", "Labels", "describe", "model_name"]

NOT_PAPER_DATA = "not the paper's data"


@dataclass(frozen=True)
class Labels:
    """``dataset``: e.g. ``"hpa_synth (n 1200, 32 px)"``; ``models``: row label -> model;
    ``paper_data``: the reference numbers were measured on this data (False: not, or unknown
    with a reference present); ``stale``: why the results are stale, or None."""

    dataset: str
    profile: str
    models: Mapping[str, str]
    paper_data: bool
    stale: str | None

    @property
    def model_list(self) -> str:
        return ", ".join(dict.fromkeys(self.models.values())) or "unknown"


def model_name(result: Any, runs_dir: Path | None = None) -> str:
    """The model a result's row used: the configured name, or for a row that selected another
    benchmark's run (``select`` trainer), that run's model (from its ``config.json`` under
    ``runs_dir``) and row."""
    history = getattr(result, "history", None) or {}
    chosen = history.get("selected")
    if isinstance(chosen, Mapping):
        model = str(_selected_model(chosen, runs_dir) or "model of the selected run")
        return f"{model} ({chosen.get('benchmark')} row '{chosen.get('label')}')"
    configured = (getattr(result, "config", None) or {}).get("model") or {}
    return str(configured.get("name", "unknown")) if isinstance(configured, Mapping) else str(configured)


def _selected_model(chosen: Mapping[str, Any], runs_dir: Path | None) -> str | None:
    """The model name in the selected run's ``config.json``: beside this benchmark's results
    (``runs_dir/<benchmark>/<key>``), else where it was selected from; None when unreadable."""
    import json

    places = [Path(runs_dir) / str(chosen.get("benchmark")) / str(chosen.get("key"))] if runs_dir else []
    places.append(Path(str(chosen.get("directory", ""))))
    for place in places:
        try:
            data = json.loads((place / "config.json").read_text(encoding="utf-8"))
            return str(data["run"]["model"]["name"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _stale(ds: Mapping[str, Any]) -> str | None:
    """Results on the embedded synthetic data made by an older generator than today's."""
    if ds.get("name") != "hpa_synth" and not str(ds.get("source", "")).startswith("hpa_synth("):
        return None
    try:
        from micro_bench_hpa.synth.render import GENERATOR_VERSION
    except ImportError:  # the hpa plugin is not installed: nothing to compare with
        return None
    made = int(ds.get("generator_version", 1))  # version 1 did not record itself
    if made == GENERATOR_VERSION:
        return None
    return (f"stale: made with hpa_synth generator version {made}, today's is {GENERATOR_VERSION}; "
            "rerun the benchmark to compare with current tables")


def describe(index: Mapping[str, Any], results: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
             runs_dir: Path | None = None) -> Labels:
    """:class:`Labels` of a manifest ``index`` whose rows' results are ``results`` (key -> result),
    under ``runs_dir`` (where selected runs are looked up)."""
    ds = index.get("dataset") or {}
    details = [f"n {ds['n']}" if "n" in ds else "", f"{ds['resolution']} px" if "resolution" in ds else ""]
    dataset = f"{ds.get('name', 'unknown')}" + (f" ({', '.join(d for d in details if d)})" if any(details) else "")
    measured_on = str((index.get("table") or {}).get("reference_dataset") or "")
    has_reference = bool(index.get("reference_csv"))
    paper_data = bool(measured_on) and str(ds.get("name", "")).lower() == measured_on.lower()
    if has_reference and not measured_on:
        paper_data = True  # nothing declared: the reference is the benchmark's own, not a paper's
    models = {row["label"]: model_name(results[row["key"]], runs_dir) for row in rows if row["key"] in results}
    return Labels(dataset=dataset, profile=str(index.get("profile") or "full configuration"), models=models,
                  paper_data=paper_data, stale=_stale(ds))
