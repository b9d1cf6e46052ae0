"""``micro-bench verify RUNS_DIR [--fix]``: check finished run folders, list (and clean) what
interrupted work left behind (the layout is :mod:`micro_bench.runfolder`'s)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from micro_bench.errors import MicroBenchError
from micro_bench.runfolder import run_lock

__all__ = ["verify_", "verify_runs"]


def _check_run(directory: Path) -> list[str]:
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
    return problems


def verify_runs(runs_dir: Path, *, fix: bool = False) -> dict[str, list[str]]:
    """Check every run folder under ``runs_dir`` and list leftovers; ``fix`` cleans them.

    Returns ``{"ok": [...], "problems": [...], "leftovers": [...], "fixed": [...]}``.
    """
    out: dict[str, list[str]] = {"ok": [], "problems": [], "leftovers": [], "fixed": []}
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
            problems = _check_run(run)
            out["problems" if problems else "ok"].extend(problems or [f"{run}: OK"])
            last = run / "checkpoints" / "last.pt"
            if last.is_file():
                final = (run / "model").is_dir()  # the trainer's save ran before result.json
                out["leftovers"].append(f"{last} (resume state of a finished run; "
                                        + ("its model/ is kept)" if final else "its trainer saved no model/: kept)"))
                if fix and final:
                    last.unlink()
                    out["fixed"].append(f"{last}: removed")
    return out


@click.command("verify")
@click.argument("runs_dir", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@click.option("--fix", is_flag=True, help="Restore or remove leftovers of interrupted runs.")
def verify_(runs_dir: Path, fix: bool) -> None:
    """Check the results in RUNS_DIR (JSON parses, config hash matches the folder key,
    predictions present) and list leftovers of interrupted work (--fix cleans them)."""
    report = verify_runs(runs_dir, fix=fix)
    for line in report["problems"]:
        click.echo(f"problem: {line}")
    for line in report["leftovers"]:
        click.echo(f"leftover: {line}")
    for line in report["fixed"]:
        click.echo(f"fixed: {line}")
    click.echo(f"{len(report['ok'])} run folder(s) OK, {len(report['problems'])} problem(s), "
               f"{len(report['leftovers'])} leftover(s)" + (f", {len(report['fixed'])} fixed" if fix else ""))
    if report["problems"]:
        raise click.ClickException(f"{runs_dir}: {len(report['problems'])} damaged result(s) (listed above); "
                                   "rerun those benchmarks with --force")
