"""Which process of a multi-process launch this is, without importing torch.

``torchrun`` (and other launchers following its convention) sets ``RANK`` for each process.
Every rank runs the benchmark, since training needs all of them; only the main one writes
results, prints and fires the lifecycle hooks.
"""

from __future__ import annotations

import os

__all__ = ["is_main_process", "rank"]


def rank() -> int:
    """This process's global rank (0 when not launched by torchrun)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def is_main_process() -> bool:
    """Whether this process writes results and output (rank 0)."""
    return rank() == 0
