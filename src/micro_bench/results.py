"""Result records and their files under ``runs/<benchmark>/<key>/``.

A run folder holds ``config.json`` (the resolved run config), ``result.json`` (written last and
atomically: its presence marks a finished run), ``predictions.npz``, ``log.txt`` and whatever
plugins add (checkpoints, figures). ``runs/<benchmark>/index.json`` lists the rows of the
benchmark's table in order, with the table settings and the reference file, so that
``micro-bench tables`` can rebuild every table from the cache alone. A run with ``--set``
overrides lists its rows in ``index.set-<hash>.json`` instead (:func:`index_name`), so it never
replaces the manifest of the benchmark as written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["INDEX_FILE", "RESULT_FILE", "RunResult", "atomic_write_text", "index_name", "json_text", "read_index",
           "read_result", "sha256_file", "write_json"]

RESULT_FILE = "result.json"
INDEX_FILE = "index.json"


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        metrics: metric id -> float, or -> ``{class_index: float}`` for per-class metrics.
        thresholds: ``{"rule": ..., "fitted_on": split, "values": [K floats]}``.
        counts: split -> K per-class positive counts, plus ``"n"``: split -> samples.
    """

    benchmark: str
    label: str
    key: str
    metrics: dict[str, Any]
    thresholds: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("cached")
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def file_mode() -> int:
    """The permissions a new file gets from ``open()`` under the current umask (usually 0644):
    ``tempfile.mkstemp`` makes its files 0600, which ``os.replace`` would keep."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace`` (with the usual
    permissions, :func:`file_mode`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finite(obj: Any) -> Any:
    """Replace NaN/inf (an undefined AUC) by ``None`` so the file is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_text(data: Any) -> str:
    """Strict, indented JSON: non-finite floats become ``null``, arrays lists, paths strings."""
    return json.dumps(_finite(json.loads(json.dumps(data, default=_jsonable))), indent=2, allow_nan=False)


def write_json(path: Path, data: Any) -> None:
    """Write :func:`json_text` atomically."""
    atomic_write_text(path, json_text(data) + "\n")


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_result(directory: Path) -> RunResult | None:
    """The finished result in ``directory``, or ``None`` if the run has not finished."""
    path = Path(directory) / RESULT_FILE
    if not path.is_file():
        return None
    from micro_bench.runfolder import read_result_file

    data = read_result_file(path)
    try:
        return RunResult.from_dict(data)
    except (TypeError, KeyError, AttributeError) as exc:
        from micro_bench.runfolder import ResultError

        raise ResultError(f"{path}: not a micro-bench result ({type(exc).__name__}: {exc}); "
                          "rerun with --force") from None


def index_name(overrides: Sequence[str] = ()) -> str:
    """The manifest's file name: ``index.json``, or ``index.set-<hash>.json`` (the first 8 hex
    digits of the SHA-256 of the ``--set`` expressions, in order) for a run with overrides."""
    if not overrides:
        return INDEX_FILE
    digest = hashlib.sha256(json.dumps(list(overrides)).encode()).hexdigest()[:8]
    return f"index.set-{digest}.json"


def read_index(benchmark_dir: Path, name: str = INDEX_FILE) -> dict[str, Any]:
    """The manifest ``name`` (default ``index.json``) of ``<out>/<benchmark>``."""
    from micro_bench.runfolder import ResultError, read_result_file

    path = Path(benchmark_dir) / name
    data = read_result_file(path, Path(benchmark_dir).parent)
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ResultError(f"{path}: not a benchmark manifest (expected a mapping whose 'rows' is a list of rows); "
                          f"run `micro-bench verify {Path(benchmark_dir).parent}` or rerun the benchmark")
    return dict(data)


def sha256_file(path: str | Path) -> str:
    """The SHA-256 hex digest of a file's bytes, read in blocks (the digest ``result.json``'s
    ``files``, model cards and export descriptions record, and ``verify`` compares)."""
    with Path(path).open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
