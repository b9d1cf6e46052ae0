"""Entry module of the ``torch`` plugin: the ``torch`` trainer and the ``lr-find`` command.

Imports only the standard library and :mod:`micro_bench`; torch is imported when used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from micro_bench import ComponentSpec, Param, hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["TORCH_PARAMS", "micro_bench_add_commands", "micro_bench_process_rank", "micro_bench_trainers"]

#: Every parameter of the ``torch`` trainer. Batches: a model that declares ``min_batch`` (BatchNorm
#: cannot train on one sample) raises the least batch; ``lr_groups`` has at least one factor per
#: layer group of a model that declares ``layer_groups``.
TORCH_PARAMS = {
    "batch_size": Param("int", ge=1, at_least="model.min_batch", doc="samples per optimizer step"),
    "micro_batch_size": Param("int", ge=1, at_least="model.min_batch", nullable=True),
    "lr": Param("float", gt=0, also=("find",)),
    "lr_groups": Param("list[float]", gt=0, min_length="model.layer_groups",
                       doc="one factor per layer group; a model with fewer groups takes the last ones"),
    "freeze_epochs": Param("int", ge=0),
    "epochs": Param("int", ge=0, nullable=True),
    "weight_decay": Param("float", ge=0),
    "num_workers": Param("int", ge=0, le=256, also=("auto",)),
    "prefetch": Param("int", ge=1, le=1024, also=("auto",)),
    "device": Param("str", doc="auto, cpu, cuda, cuda:N, mps"),
    "amp": Param("bool"),
    "channels_last": Param("bool", also=("auto",)),
    "threads": Param("int", ge=1, le=4096, nullable=True),
    "checkpoint": Param("bool"),
    "keep_checkpoint": Param("bool"),
    "bn_frozen": Param("str", choices=("eval", "train")),
    "epoch_metrics": Param("list[str]"),
    "lr_find": Param("mapping", nullable=True, doc="start_lr, end_lr, num_iter, rule, beta, divergence"),
    "sync_bn": Param("bool"),
    "optimizer": Param("str", doc="a timm.optim name: adam, adamw, sgd, momentum, rmsprop, lamb, ..."),
    "momentum": Param("float", ge=0, lt=1),
    "optimizer_options": Param("mapping", nullable=True, doc="further keywords of the optimizer"),
    "clip": Param("float", ge=0, nullable=True, doc="gradient-norm clipping; 0 or null: off"),
    "fresh_optimizer": Param("bool"),
}


@hookimpl
def micro_bench_process_rank() -> int | None:
    """torchrun's convention: the global rank in ``RANK`` (``None`` when not launched by it; a
    value that is not a whole number counts as rank 0, as before)."""
    value = os.environ.get("RANK")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return 0


@hookimpl
def micro_bench_trainers() -> list[ComponentSpec]:
    """The ``torch`` trainer (the paper's Adam / layer-group / freeze recipe)."""
    return [
        ComponentSpec(
            "torch",
            "micro_bench_torch.trainer:TorchTrainer",
            "Adam, differential lrs per layer group, head-only first epoch, checkpoints, AMP/DDP",
            {"paper": "Adam, batch 64, lr 0.02 with lr/10, lr/3, lr; first epoch trains the head",
             "requires": ["torch"], "accelerator": True, "params": TORCH_PARAMS},
        )
    ]


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench lr-find FILE``."""
    from micro_bench_torch.cli import lr_find_command

    cli.add_command(lr_find_command)
