"""Entry module of the ``environment`` plugin: writes ``environment.json`` when a run ends.

Imports only the standard library and :mod:`micro_bench`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench import Run
    from micro_bench.results import RunResult

__all__ = ["micro_bench_run_end"]


@hookimpl
def micro_bench_run_end(run: Run, result: RunResult) -> None:
    """Record the machine beside the result, once: a run finalised again (reused after a kill
    before its ``run_end`` hooks) keeps the file of the machine that computed it."""
    from micro_bench.results import write_json
    from micro_bench_environment.environment import environment

    path = run.directory / "environment.json"
    if not path.exists():
        config = json.loads((run.directory / "config.json").read_text(encoding="utf-8"))
        write_json(path, environment(config.get("distributions") or {}))
