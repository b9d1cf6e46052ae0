"""The command line's generic-layout options (and ``--layout`` presets) as
:class:`~micro_bench_hpa.generic.GenericOptions`."""

from __future__ import annotations

from pathlib import Path

from micro_bench_hpa.generic import GenericOptions
from micro_bench_hpa.labels import LabelSpec, parse_class_list
from micro_bench_hpa.layouts import Layout
from micro_bench_hpa.layouts import preset as layout_preset
from micro_bench_hpa.readers import SourceError

__all__ = ["generic_options"]


def _names(text: str, option: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    if not names or any(not n for n in names):
        raise SourceError(f"{option} {text!r}: expected names like a,b,c")
    if len(set(names)) != len(names):
        raise SourceError(f"{option} {text!r}: a name is listed twice")
    return names


def generic_options(src: str | Path, *, preset: str | None = None, labels: str | None = None,
                    id_column: str | None = None, label_column: str | None = None, separator: str | None = None,
                    label_columns: str | None = None, one_hot: bool = False, classes: str | None = None,
                    channels: str | None = None, pattern: str | None = None, fit: str | None = None,
                    to_uint8: str | None = None) -> GenericOptions:
    """Options given on the command line over the preset's (``--layout NAME``)."""
    base = layout_preset(preset, Path(src)) if preset else {}
    labels_path = Path(labels) if labels else base.get("labels")
    if labels_path is None:
        raise SourceError("--pattern needs --labels FILE (a CSV or TSV with an id column and labels)")
    pattern = pattern or base.get("pattern")
    if not pattern:
        raise SourceError("--labels needs --pattern PATTERN, e.g. {id}_{channel}.png or {id}.ome.tif")
    class_list = tuple(parse_class_list(classes)) if classes else base.get("classes")
    spec = LabelSpec(
        id_column=id_column or base.get("id_column", "Id"),
        label_column=label_column or base.get("label_column", "Target"),
        separator=separator if separator is not None else base.get("separator", " "),
        label_columns=_names(label_columns, "--label-columns") if label_columns else (),
        one_hot=one_hot,
        classes=tuple(class_list) if class_list is not None else None,
    )
    layout = Layout(pattern=pattern, channels=_names(channels, "--channels") if channels else base.get("channels"),
                    fit=fit, to_uint8=to_uint8)
    return GenericOptions(labels=Path(labels_path), spec=spec, layout=layout, preset=preset)
