"""Entry module of the ``torch`` plugin: the ``torch`` trainer and the ``lr-find`` command.

Imports only the standard library and :mod:`micro_bench`; torch is imported when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from micro_bench import ComponentSpec, hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["micro_bench_add_commands", "micro_bench_run_end", "micro_bench_trainers"]


@hookimpl
def micro_bench_trainers() -> list[ComponentSpec]:
    """The ``torch`` trainer (the paper's Adam / layer-group / freeze recipe)."""
    return [
        ComponentSpec(
            "torch",
            "micro_bench_torch.trainer:TorchTrainer",
            "Adam, differential lrs per layer group, head-only first epoch, checkpoints, AMP/DDP",
            {"paper": "Adam, batch 64, lr 0.02 with lr/10, lr/3, lr; first epoch trains the head",
             "requires": ["torch"], "accelerator": True},
        )
    ]


@hookimpl
def micro_bench_run_end(run: Any, result: Any) -> None:
    """Once a ``torch`` run's result is written, keep only the trained weights (``model.pt``,
    what ``micro-bench predict`` loads): the resume state is no longer needed.
    ``trainer: {keep_checkpoint: true}`` keeps ``last.pt`` beside it."""
    trainer = run.config.trainer
    if trainer.name != "torch":
        return
    from micro_bench_torch.checkpoint import finalize_checkpoint

    finalize_checkpoint(run.directory / "checkpoints", keep_last=bool(trainer.params.get("keep_checkpoint", False)))


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench lr-find FILE``."""
    from micro_bench_torch.cli import lr_find_command

    cli.add_command(lr_find_command)
