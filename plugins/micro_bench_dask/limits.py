"""How many local worker processes to start: never more than there are tasks or usable cores."""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["cap_workers", "usable_cores"]


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def cap_workers(asked: int | None, tasks: int, what: str, say: Callable[[str], object] | None = None,
                per_worker: int = 1) -> int:
    """``asked`` workers (default: the usable cores / ``per_worker``) capped at ``tasks`` and at the
    usable cores / ``per_worker``; ``say`` gets one line when an asked number was capped."""
    cores = max(1, usable_cores() // max(1, per_worker))
    wanted = asked if asked is not None else cores
    n = max(1, min(wanted, max(tasks, 1), cores))
    if asked is not None and n < asked and say is not None:
        say(f"--workers {asked} capped at {n} ({tasks} {what}, {usable_cores()} usable cores"
            f"{f' / {per_worker} threads each' if per_worker > 1 else ''})")
    return n
