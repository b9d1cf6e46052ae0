"""Keep freed image buffers in the process heap while rendering (glibc only).

Rendering one 512 px sample allocates and frees a few dozen ``(R, R)`` float64 maps (2 MiB
each). With glibc's defaults, freed chunks of that size are unmapped or trimmed back to the
operating system and every new map page-faults its 512 pages again: measured, about 10,000
minor faults and half of the render time per 512 px sample. Raising glibc's mmap and trim
thresholds once per process makes those buffers be reused from the heap instead (the process
keeps up to :data:`RETAIN_BYTES` of freed memory; nothing else changes). On other C libraries
this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

__all__ = ["RETAIN_BYTES", "retain_freed_buffers"]

#: Largest allocation served from the heap, and freed heap memory kept before trimming.
RETAIN_BYTES = 64 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's <malloc.h>


@lru_cache(maxsize=1)
def retain_freed_buffers() -> bool:
    """Raise glibc's ``M_MMAP_THRESHOLD`` / ``M_TRIM_THRESHOLD`` to :data:`RETAIN_BYTES`.

    Returns:
        True where the thresholds were set (Linux with glibc), False elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, RETAIN_BYTES) == 1
    ok_trim = mallopt(_M_TRIM_THRESHOLD, 2 * RETAIN_BYTES) == 1
    return ok_mmap and ok_trim
