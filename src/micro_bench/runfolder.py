"""Run folders under faults: a lock per run, and exactly one finished result through ``--force``
and any interruption (``micro-bench verify RUNS_DIR [--fix]``, a bundled command, checks them).

Layout beside a run folder ``<out>/<bench>/<key>/``:

* ``.locks/<key>.lock``: a ``filelock`` lock (``fcntl``: the OS releases it when the holder dies,
  so a stale lock from a killed process is taken over at once); ``.locks/<key>.owner`` says who
  holds it (pid, host, since when) for the message of a process that waits.
* ``.<key>.replaced``: the finished folder a ``--force`` recompute set aside. :func:`recover`
  (run under the lock before anything else touches the run) keeps exactly one finished result:
  the new one if it finished, else the set-aside one, put back.
* ``<key>/.finalised``: written after the ``run_end`` hooks; a result without it is finalised
  again (hooks re-fired) when it is next reused.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from micro_bench.errors import MicroBenchError

__all__ = ["FINALISED", "MODEL_FOLDER", "ResultError", "holder", "recover", "run_lock", "set_aside", "written_since"]

FINALISED = ".finalised"
#: The folder a trainer's ``save`` writes the trained model into (``<run>/model/``).
MODEL_FOLDER = "model"


class ResultError(MicroBenchError, ValueError):
    """A result file that cannot be read."""


def _side(directory: Path, suffix: str) -> Path:
    if suffix in ("lock", "owner"):  # kept together in one hidden folder (ignored by git)
        return directory.parent / ".locks" / f"{directory.name}.{suffix}"
    return directory.parent / f".{directory.name}.{suffix}"


def holder(directory: Path) -> str:
    """Who holds the run's lock, as written by the holder (``"pid 12 on host h since ..."``)."""
    try:
        return _side(directory, "owner").read_text(encoding="utf-8").strip()
    except OSError:
        return "another process"


@contextmanager
def run_lock(directory: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the run's lock; yields False at once (without it) when ``wait`` is off and another
    process holds it."""
    from filelock import FileLock, Timeout

    _side(directory, "lock").parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(_side(directory, "lock")))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        yield False
        return
    owner = _side(directory, "owner")
    try:
        owner.write_text(f"pid {os.getpid()} on host {socket.gethostname()} since "
                         f"{time.strftime('%Y-%m-%d %H:%M:%S')}", encoding="utf-8")
        recover(directory)
        yield True
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def written_since(directory: Path, since: float | None) -> bool:
    """Whether ``directory`` holds a result written at or after ``since`` (a time.time()), e.g. by
    another process's ``--force`` this one waited for: forcing it again would compute it twice."""
    try:
        return since is not None and (directory / "result.json").stat().st_mtime >= since
    except OSError:
        return False


def _finished(directory: Path) -> bool:
    try:
        json.loads((directory / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def recover(directory: Path) -> str | None:
    """After an interrupted ``--force``: keep the new result if it finished, else put the old one
    back. Returns what was done, or None when there was nothing to do. Call it under the lock."""
    backup = _side(directory, "replaced")
    if not backup.exists():
        return None
    if _finished(directory):
        shutil.rmtree(backup)
        return f"removed {backup.name} (the recompute had finished)"
    if directory.exists():
        shutil.rmtree(directory)
    backup.rename(directory)
    return f"restored {directory.name} from {backup.name} (the recompute had not finished)"


@contextmanager
def set_aside(directory: Path, active: bool) -> Iterator[None]:
    """With ``active`` (``--force``) and a finished run in ``directory``: move it to
    ``.<key>.replaced`` while the body recomputes; put it back if the body fails, delete it once
    the body has succeeded. A kill in between is resolved by :func:`recover`."""
    backup = _side(directory, "replaced")
    moved = active and directory.exists()
    if moved:
        directory.rename(backup)  # recover() ran under the lock: no older backup exists
    try:
        yield
    except BaseException:
        if moved:
            shutil.rmtree(directory, ignore_errors=True)
            backup.rename(directory)
        raise
    if moved:
        shutil.rmtree(backup, ignore_errors=True)


def read_result_file(path: Path, runs_dir: Path | None = None) -> Any:
    """``json.loads`` of a result file (``<runs>/<bench>/<key>/result.json``; pass ``runs_dir``
    for another depth), or a :class:`ResultError` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        runs = runs_dir if runs_dir is not None else path.parents[2]
        raise ResultError(f"{path}: corrupt result file ({exc}); run `micro-bench verify {runs}` "
                          "or rerun the benchmark with --force") from None
