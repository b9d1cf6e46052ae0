"""Which plugin an exception came from, so that a failure inside a plugin's code is reported as
that plugin's (``plugin 'x' (dist 1.0) failed in fit: ValueError: ...``, exit 1) and only
micro-bench's own failures as internal errors.

The :class:`~micro_bench.host.Host` records where each plugin's code lives (its package folder, or
its file); :func:`blame` walks the exception's traceback from the innermost frame outwards and names
the innermost frame in a plugin that micro-bench does not ship. Frames in libraries (numpy, torch)
belong to no plugin and are passed over.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["Culprit", "blame"]


@dataclass(frozen=True)
class Culprit:
    """The plugin whose code raised: its name, distribution (or file), and the plugin function
    through which the call entered it (``fit``, ``micro_bench_run_end``...)."""

    plugin: str
    origin: str
    where: str
    error: BaseException

    def __str__(self) -> str:
        text = " ".join(str(self.error).split())
        return (f"plugin {self.plugin!r} ({self.origin}) failed in {self.where}: "
                f"{type(self.error).__name__}{': ' + text if text else ''}")


def _owner(filename: str, roots: dict[str, Path]) -> str | None:
    path = Path(filename)
    for name, root in roots.items():
        if path == root or (root.is_dir() and path.is_relative_to(root)):
            return name
    return None


def blame(exc: BaseException, host: Host) -> Culprit | None:
    """The third-party plugin ``exc`` was raised in (the innermost such frame), or ``None`` when
    no third-party plugin code is on its traceback (a micro-bench bug, or a bundled plugin's)."""
    roots = host.third_party_roots()
    if not roots:
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    owners = [_owner(f.filename, roots) for f in frames]
    inner = next((i for i in range(len(frames) - 1, -1, -1) if owners[i] is not None), None)
    if inner is None:
        return None
    plugin = owners[inner]
    entry = min(i for i, owner in enumerate(owners) if owner == plugin)
    return Culprit(plugin, host.origin_of(plugin), frames[entry].name, exc)  # type: ignore[arg-type]
