"""Entry module of the bundled ``predict`` plugin: ``model.json`` after each run, and the
``micro-bench predict`` command.

Imports only the standard library and :mod:`micro_bench`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["micro_bench_add_commands", "micro_bench_run_end"]


@hookimpl(trylast=True)
def micro_bench_run_end(run: Any, result: Any) -> None:
    """Write ``model/model.json`` beside the files the run's trainer saved there (its ``save``,
    called by the runner before the result was written). A run whose trainer saves nothing gets no
    card (``read_card`` says so). A failure is logged, never fatal: the result stands."""
    from micro_bench_predict.card import ModelCardError, build_card, model_folder, write_card

    if not model_folder(run.directory).is_dir():
        return
    try:
        card = build_card(run.directory, run.config.to_dict(), result, run.host.registries)
        write_card(run.directory, card)
    except (ModelCardError, KeyError, OSError) as error:
        with (run.directory / "log.txt").open("a", encoding="utf-8") as fh:
            fh.write(f"model.json not written: {error}\n")


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench predict``."""
    from micro_bench_predict.cli import predict_command

    cli.add_command(predict_command)
