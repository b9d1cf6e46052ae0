"""``micro-bench verify RUNS_DIR [--fix]``: check finished run folders, list (and clean) what
interrupted work left behind (the layout is :mod:`micro_bench.runfolder`'s).

A finished run is checked in full: config.json hashes to its folder's key, result.json belongs to
it, ``predictions.npz`` decodes to consistent arrays whose decisions match the recorded
thresholds, every metric of result.json equals the one recomputed from the predictions by the
metric plugins, and every file result.json lists (``files``: predictions, ``model/`` with its
``model.json``) still has the SHA-256 recorded when the run wrote it. Each benchmark's
``index*.json`` rows must name run folders that hold a result.

A result written before runs recorded digests (no ``files`` in result.json) is checked as far as
it can be (key, thresholds, metrics recomputed) and reported as *unchecked*, never as OK: its
files cannot be vouched for. ``--fix`` does not record digests for such files (it did not see
them written); rerunning the benchmark with ``--force`` does. ``--strict`` makes an unchecked
result a failure (exit 1).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from micro_bench import pass_host
from micro_bench.errors import MicroBenchError
from micro_bench.results import sha256_file
from micro_bench.runfolder import run_lock

__all__ = ["verify_", "verify_runs"]


#: What is said of a result that records no digests (``files``) in result.json.
NO_DIGESTS = ("its files cannot be checked: result.json records no SHA-256 digests (written before micro-bench "
              "recorded them); metrics recomputed only. Rerun it with --force to record them")


def _check_run(directory: Path, host: Any = None) -> list[str]:
    """Problems of one finished run folder (empty: fine)."""
    from micro_bench.build import key_of

    problems = []
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        result = json.loads((directory / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{directory}: unreadable config.json or result.json ({exc})"]
    if not isinstance(config, dict) or config.get("key") != directory.name:
        problems.append(f"{directory}: config.json key {config.get('key') if isinstance(config, dict) else None!r} "
                        "does not match the folder name")
    elif isinstance(config.get("run"), dict):
        key = key_of(config["run"], str(config.get("dataset_fingerprint", "")), str(config.get("version", "")),
                     config.get("distributions"))
        if key != directory.name:
            problems.append(f"{directory}: the hash of config.json ({key}) does not match the folder key")
    if not isinstance(result, dict) or result.get("key") != directory.name:
        problems.append(f"{directory}: result.json belongs to another run")
    if not (directory / "predictions.npz").is_file():
        problems.append(f"{directory}: predictions.npz missing")
    if isinstance(result, dict):
        problems += _check_files(directory, result)
        problems += _check_model_card(directory)
        if (directory / "predictions.npz").is_file():
            problems += _check_metrics(directory, result, config if isinstance(config, dict) else {}, host)
    return problems


def _check_model_card(directory: Path) -> list[str]:
    """A saved model (``model/``) has a readable ``model.json`` whose recorded SHA-256 of each
    model file still holds (the card is written after result.json, so result.json cannot list it)."""
    folder = directory / "model"
    if not folder.is_dir():
        return []
    if not (folder / "model.json").is_file():
        return [f"{directory}: model/model.json is missing (deleted, or the run stopped before finalising: "
                "rerun the benchmark to finalise it)"]
    try:
        from micro_bench_predict.card import ModelCardError, read_card
    except ImportError:  # pragma: no cover - the predict plugin is bundled
        return []
    try:
        read_card(directory)
    except ModelCardError as error:
        return [f"{directory}: model/model.json: {' '.join(str(error).split())[:200]}"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"{directory}: model/model.json cannot be read ({type(error).__name__})"]
    return []


def _check_files(directory: Path, result: Mapping[str, Any]) -> list[str]:
    """Every file result.json lists still has the digest recorded when the run wrote it."""
    files = result.get("files")
    if files is None:
        return []  # written before digests were recorded: the metrics check still applies
    if not isinstance(files, dict):
        return [f"{directory}: result.json files is {type(files).__name__}, expected a mapping"]
    problems = []
    for rel, digest in sorted(files.items()):
        path = directory / str(rel)
        if ".." in Path(str(rel)).parts or Path(str(rel)).is_absolute():
            problems.append(f"{directory}: result.json lists {rel!r}, outside the run folder")
        elif not path.is_file():
            if rel != "predictions.npz":  # named by the caller already
                problems.append(f"{directory}: {rel} is missing (listed in result.json)")
        elif sha256_file(path) != digest:
            problems.append(f"{directory}: {rel} changed since the run wrote it (SHA-256 differs from result.json)")
    return problems


def _has_digests(directory: Path) -> bool:
    """Whether the (readable) result.json of ``directory`` lists its files' digests."""
    try:
        result = json.loads((directory / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(result, dict) and isinstance(result.get("files"), dict) and bool(result["files"])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if a is None or b is None:  # an undefined value is stored as null
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _check_metrics(directory: Path, result: Mapping[str, Any], config: Mapping[str, Any], host: Any) -> list[str]:
    """Recompute result.json's metrics from predictions.npz with the run's metric plugins."""
    import numpy as np

    from micro_bench.contract import Scores
    from micro_bench.evaluate import compute_metrics, labels_from

    where = f"{directory}/predictions.npz"
    try:
        with np.load(directory / "predictions.npz", allow_pickle=False) as data:
            y_true, y_score, y_pred = (np.asarray(data[k]) for k in ("y_true", "y_score", "y_pred"))
    except Exception as exc:  # noqa: BLE001 - numpy/zipfile raise many types for a damaged file
        return [f"{where}: cannot be read ({type(exc).__name__}: {str(exc)[:120]})"]
    if y_true.ndim != 2 or y_score.shape != y_true.shape or y_pred.shape != y_true.shape:
        return [f"{where}: arrays of shapes {y_true.shape}, {y_score.shape}, {y_pred.shape}, expected three (N, K)"]
    thresholds = (result.get("thresholds") or {}).get("values") if isinstance(result.get("thresholds"), dict) else None
    try:
        values = np.asarray(thresholds, dtype=float)
    except (TypeError, ValueError):
        values = np.zeros(0)
    if values.shape != (y_true.shape[1],):
        return [f"{directory}: result.json thresholds do not give one value per class ({y_true.shape[1]})"]
    if not np.isfinite(y_score).all() or (y_score < 0).any() or (y_score > 1).any():
        return [f"{where}: y_score holds values that are not probabilities in [0, 1]"]
    if not np.array_equal(labels_from(y_score, values), y_pred.astype(bool)):
        return [f"{where}: y_pred does not follow from y_score and result.json's thresholds"]
    if host is None:
        return []
    metrics: dict[str, Any] = {}
    registry = host.registries["metric"]
    for spec in (config.get("run") or {}).get("metrics") or []:
        name = str(spec.get("name")) if isinstance(spec, dict) else ""
        if name not in registry:
            continue  # its plugin is not installed here: cannot recompute it
        params = {k: v for k, v in spec.items() if k != "name"}
        metrics[name] = registry.create(name, **params)
    recorded: dict[str, Any] = dict(result["metrics"]) if isinstance(result.get("metrics"), dict) else {}
    named = (result.get("dataset") or {}).get("classes") if isinstance(result.get("dataset"), dict) else None
    classes = tuple(str(c) for c in named) if isinstance(named, list) else tuple(str(k) for k in range(y_true.shape[1]))
    scores = Scores(y_true.astype(bool), y_score.astype(float), values, y_pred.astype(bool), classes)
    problems = []
    for name, value in compute_metrics(metrics, scores).items():
        if name not in recorded:
            problems.append(f"{directory}: result.json lacks metric {name!r}")
        elif not _same(recorded[name], value):
            shown = f"{value:.6g}" if isinstance(value, float) else "another per-class table"
            problems.append(f"{directory}: metric {name} is {recorded[name]!r:.40} in result.json but {shown} "
                            "recomputed from predictions.npz")
    return problems


_KEY = re.compile(r"^[0-9a-f]{8,64}$")


def _index_rows(index: Mapping[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    if not isinstance(index, Mapping) or not isinstance(index.get("rows") or [], list):
        raise ValueError("not a manifest: expected a mapping whose 'rows' is a list")
    for row in index.get("rows") or []:
        if not isinstance(row, dict):
            rows.append(("?", row))
            continue
        keys: list[Any] = row["repeats"] if isinstance(row.get("repeats"), list) else [row.get("key")]
        rows += [(str(row.get("label")), k if not isinstance(k, dict) else k.get("key")) for k in keys]
    return rows


def _check_indexes(bench: Path, fix: bool, out: dict[str, list[str]]) -> None:
    """Every row key of the benchmark's manifests names a run folder with a result; ``fix`` drops
    rows whose result is gone (their runs are recomputed by the next run), never a result."""
    from micro_bench.results import write_json

    for path in sorted(bench.glob("index*.json")):
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
            rows = _index_rows(index)
        except (OSError, ValueError, AttributeError) as exc:
            out["problems"].append(f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:100]})")
            continue
        bad = []
        for label, key in rows:
            if not isinstance(key, str) or not _KEY.match(key):
                out["problems"].append(f"{path}: row {label!r} names {key!r}, not a run key (a folder name of hex digits)")
                bad.append(key)
            elif (bench / f".{key}.replaced").exists():
                continue  # set aside by an interrupted --force: listed as a leftover, recovered by --fix
            elif not (bench / key / "result.json").is_file():
                out["problems"].append(f"{path}: row {label!r} names run {key}, which has no result.json")
                bad.append(key)
        if fix and bad:
            keep = [r for r in index.get("rows") or [] if not (isinstance(r, dict) and (r.get("key") in bad or any(
                (k if isinstance(k, str) else (k or {}).get("key")) in bad for k in r.get("repeats") or [])))]
            write_json(path, {**index, "rows": keep})
            out["fixed"].append(f"{path}: dropped {len(index.get('rows') or []) - len(keep)} row(s) without a result "
                                "(rerun the benchmark to recompute them)")


def verify_runs(runs_dir: Path, *, fix: bool = False, host: Any = None) -> dict[str, list[str]]:
    """Check every run folder under ``runs_dir`` and list leftovers; ``fix`` cleans them.

    Returns ``{"ok": [...], "unchecked": [...], "problems": [...], "leftovers": [...], "fixed": [...],
    "not_fixed": [...]}`` (``unchecked``: results without recorded digests, see the module doc).
    With a ``host``, each result's metrics are recomputed by its metric plugins.
    """
    out: dict[str, list[str]] = {"ok": [], "unchecked": [], "problems": [], "leftovers": [], "fixed": [],
                                 "not_fixed": []}
    if not runs_dir.is_dir():
        raise MicroBenchError(f"{runs_dir}: not a folder of benchmark results")
    for bench in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for backup in sorted(bench.glob(".*.replaced")):
            key = backup.name[1:-len(".replaced")]
            out["leftovers"].append(f"{backup} (set aside by an interrupted --force)")
            if fix:
                with run_lock(bench / key, wait=False) as held:  # run_lock recovers on entry
                    out["fixed"].append(f"{bench / key}: recovered" if held else f"{bench / key}: busy, skipped")
        for run in sorted(p for p in bench.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for tmp in sorted([*run.rglob("*.tmp"), *run.rglob("*.partial")]):
                out["leftovers"].append(f"{tmp} (temporary file of an interrupted write)")
                if fix:
                    tmp.unlink(missing_ok=True)
                    out["fixed"].append(f"{tmp}: removed")
            if not (run / "result.json").exists():
                if (run / "config.json").exists():
                    out["ok"].append(f"{run}: unfinished (resumes on the next run)")
                continue
            problems = _check_run(run, host)
            if problems:
                out["problems"].extend(problems)
            elif _has_digests(run):
                out["ok"].append(f"{run}: OK")
            else:
                out["unchecked"].append(f"{run}: {NO_DIGESTS}")
                if fix:
                    out["not_fixed"].append(f"{run}: no digests recorded for files verify did not see written")
            last = run / "checkpoints" / "last.pt"
            if last.is_file():
                final = (run / "model").is_dir()  # the trainer's save ran before result.json
                out["leftovers"].append(f"{last} (resume state of a finished run; "
                                        + ("its model/ is kept)" if final else "its trainer saved no model/: kept)"))
                if fix and final:
                    last.unlink()
                    out["fixed"].append(f"{last}: removed")
        _check_indexes(bench, fix, out)
    return out


@click.command("verify")
@click.argument("runs_dir", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@click.option("--fix", is_flag=True, help="Restore or remove leftovers of interrupted runs; drop index rows whose "
              "result is gone (never a finished result; never records digests of files it did not see written).")
@click.option("--strict", is_flag=True, help="Fail (exit 1) also on results whose files cannot be checked "
              "(written before runs recorded SHA-256 digests).")
@pass_host
def verify_(host: Any, runs_dir: Path, fix: bool, strict: bool) -> None:
    """Check the results in RUNS_DIR: config hash matches the folder key, every metric equals the one
    recomputed from predictions.npz, every listed file (model.json included) has its recorded
    SHA-256, index rows name finished runs; list leftovers of interrupted work (--fix cleans them).
    A result without recorded digests is reported as unchecked, not OK (exit 1 with --strict)."""
    report = verify_runs(runs_dir, fix=fix, host=host)
    for line in report["problems"]:
        click.echo(f"problem: {line}")
    for line in report["unchecked"]:
        click.echo(f"unchecked: {line}")
    for line in report["not_fixed"]:
        click.echo(f"not fixed: {line}")
    for line in report["leftovers"]:
        click.echo(f"leftover: {line}")
    for line in report["fixed"]:
        click.echo(f"fixed: {line}")
    unchecked = f", {len(report['unchecked'])} unchecked (no digests)" if report["unchecked"] else ""
    click.echo(f"{len(report['ok'])} run folder(s) OK{unchecked}, {len(report['problems'])} problem(s), "
               f"{len(report['leftovers'])} leftover(s)" + (f", {len(report['fixed'])} fixed" if fix else ""))
    if report["problems"]:
        raise click.ClickException(f"{runs_dir}: {len(report['problems'])} damaged result(s) (listed above); "
                                   "rerun those benchmarks with --force")
    if strict and report["unchecked"]:
        raise click.ClickException(f"{runs_dir}: {len(report['unchecked'])} result(s) whose files cannot be checked "
                                   "(no recorded digests; --strict); rerun those benchmarks with --force")
