"""How the CLI reports what went wrong: user errors as one line, bugs as a saved traceback.

* A :class:`~micro_bench.errors.MicroBenchError` is a user error: its text names the file, key,
  id or path and what was expected; the CLI prints it on one line and exits 1.
* An ``OSError`` with a path (missing file, permission, disk full, a file where a folder is
  needed) is the environment's error: one line with the path and the reason, exit 1. Disk full
  also says how much space is free there.
* An exception raised in a third-party plugin's code (:func:`micro_bench.blame.blame`) is that
  plugin's failure: one line naming the plugin, its distribution and where it failed, the
  traceback saved to a crash log; exit 1.
* Anything else is a bug of micro-bench (the core or a bundled plugin): the traceback is printed
  and saved to a crash log, followed by a line that says so and where the log is; exit 70
  (``EX_SOFTWARE``).
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import shutil
import sys
import traceback
from pathlib import Path

__all__ = ["BUG_EXIT", "crash_dir", "disk_full_message", "free_bytes", "os_error_message", "report_bug",
           "save_traceback"]

BUG_EXIT = 70


def crash_dir() -> Path:
    """``$MICRO_BENCH_CACHE/crash`` or ``~/.cache/micro-bench/crash``."""
    base = os.environ.get("MICRO_BENCH_CACHE") or Path.home() / ".cache" / "micro-bench"
    return Path(base) / "crash"


def free_bytes(path: str | Path) -> int | None:
    """Free bytes on the filesystem holding ``path`` (its nearest existing parent), or None."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def disk_full_message(path: str | Path, needed: int | None = None) -> str:
    """One line for a full disk while writing ``path``: the path, the space needed and free."""
    free = free_bytes(path)
    need = f"; about {_mb(needed)} more needed" if needed else ""
    have = f" ({_mb(free)} free there)" if free is not None else ""
    return (f"{path}: no space left on device{have}{need}; free some space and run the same "
            "command again: what was written is kept and the work resumes")


def os_error_message(exc: OSError) -> str:
    """One line for an environment error: the path(s) involved and the reason."""
    path = exc.filename if exc.filename is not None else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full_message(path or ".")
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOTDIR:
        reason += " (a part of the path is a regular file, not a folder)"
    other = f" -> {exc.filename2}" if exc.filename2 else ""
    return f"{path}{other}: {reason}" if path else reason


def save_traceback(exc: BaseException) -> Path | None:
    """Save ``exc``'s traceback to a crash log; its path, or None when it cannot be written."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log = crash_dir() / f"{stamp}-{os.getpid()}.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"micro-bench {' '.join(sys.argv[1:])}\n\n{text}", encoding="utf-8")
    except OSError:
        return None
    return log


def report_bug(exc: BaseException) -> Path | None:
    """Print ``exc``'s traceback to stderr and save it; return the crash log's path."""
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    log = save_traceback(exc)
    where = f"the traceback above is saved in {log}" if log else "the traceback is above"
    origin = _origin(exc)
    sys.stderr.write(
        f"micro-bench: internal error ({type(exc).__name__}{origin}): this is a bug, not a problem "
        f"with your input; {where}; please report it with that file\n"
    )
    return log


def _origin(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    return f" in {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
