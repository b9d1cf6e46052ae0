"""Entry module of the bundled ``predict`` plugin: ``model.json`` after each run, and the
``micro-bench predict`` command.

Imports only the standard library and :mod:`micro_bench`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["EXPORTING_TRAINERS", "micro_bench_add_commands", "micro_bench_run_end"]

#: Trainers whose runs leave weights that :func:`micro_bench_predict.load_trained` can load.
EXPORTING_TRAINERS = {"torch": "torch", "sklearn": "sklearn"}


@hookimpl(trylast=True)
def micro_bench_run_end(run: Any, result: Any) -> None:
    """Write ``checkpoints/model.json`` beside the run's weights (``model.pt``, written by the torch
    trainer's ``finalize`` before the hooks; ``model.skops``). A failure is logged, never fatal:
    the result stands."""
    kind = EXPORTING_TRAINERS.get(run.config.trainer.name)
    if kind is None:
        return
    from micro_bench_predict.card import WEIGHTS, ModelCardError, build_card, write_card

    folder = run.directory / "checkpoints"
    if kind == "torch" and not (folder / WEIGHTS[kind]).is_file() and (folder / "last.pt").is_file():
        # A run stopped between result.json and trainer.finalize, finalised on reuse: the
        # trainer's finalize did not run, so shrink last.pt here as it would have.
        from micro_bench_torch.checkpoint import finalize_checkpoint

        finalize_checkpoint(folder, keep_last=bool(run.config.trainer.params.get("keep_checkpoint", False)))
    if not (folder / WEIGHTS[kind]).is_file():
        return  # trainer.checkpoint: false keeps no weights; read_card says so
    try:
        card = build_card(run.directory, run.config.to_dict(), result, kind, run.host.registries)
        write_card(run.directory, card)
    except (ModelCardError, KeyError, OSError) as error:
        with (run.directory / "log.txt").open("a", encoding="utf-8") as fh:
            fh.write(f"model.json not written: {error}\n")


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench predict``."""
    from micro_bench_predict.cli import predict_command

    cli.add_command(predict_command)
