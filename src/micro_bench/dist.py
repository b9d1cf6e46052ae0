"""Which process of a multi-process launch this is, as the plugins say.

A launcher's convention (torchrun's ``RANK``) belongs to the plugin of its framework: the core
asks ``micro_bench_process_rank`` (firstresult; the bundled ``torch`` plugin answers from
``RANK``). Every rank runs the benchmark, since training needs all of them; only rank 0 writes
results, prints and fires the lifecycle hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench.hookcall import call_hook

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["is_main_process", "rank"]


def rank(host: Host) -> int:
    """This process's rank (0 when no plugin says otherwise)."""
    answer = call_hook(host.pm, "micro_bench_process_rank")
    return int(answer[0][1]) if answer else 0


def is_main_process(host: Host) -> bool:
    """Whether this process writes results and output (rank 0)."""
    return rank(host) == 0
