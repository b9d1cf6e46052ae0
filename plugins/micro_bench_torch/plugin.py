"""Entry module of the ``torch`` plugin: the ``torch`` trainer and the ``lr-find`` command.

Imports only the standard library and :mod:`micro_bench`; torch is imported when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench import ComponentSpec, hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["micro_bench_add_commands", "micro_bench_trainers"]


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
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench lr-find FILE``."""
    from micro_bench_torch.cli import lr_find_command

    cli.add_command(lr_find_command)
