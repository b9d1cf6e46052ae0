"""Layer groups: differential learning rates (Adam, one group per layer group) and freezing."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["build_optimizer", "layer_groups", "set_trainable"]


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """``model.layer_groups()`` as lists of parameters, or one group of all parameters.

    Modules inside a group are expanded into their parameters; every parameter must appear
    exactly once over all groups.
    """
    if not hasattr(model, "layer_groups"):
        return [list(model.parameters())]
    groups: list[list[nn.Parameter]] = []
    for group in model.layer_groups():
        params: list[nn.Parameter] = []
        for item in group:
            params.extend(item.parameters() if isinstance(item, nn.Module) else [item])
        groups.append(params)
    seen = [id(p) for g in groups for p in g]
    if len(seen) != len(set(seen)) or set(seen) != {id(p) for p in model.parameters()}:
        raise ValueError(
            f"{type(model).__name__}.layer_groups() must list every parameter exactly once"
        )
    return groups


def build_optimizer(
    model: nn.Module, lr: float, lr_groups: Sequence[float], weight_decay: float = 0.0
) -> torch.optim.Adam:
    """Adam with one parameter group per layer group, group ``i`` at ``lr * lr_groups[i]``.

    A model without ``layer_groups()`` gets one group at ``lr * lr_groups[-1]``.
    """
    groups = layer_groups(model)
    factors = list(lr_groups)[-len(groups) :] if len(groups) == 1 else list(lr_groups)
    if len(factors) != len(groups):
        raise ValueError(
            f"trainer 'torch': lr_groups has {len(lr_groups)} factors but "
            f"{type(model).__name__} has {len(groups)} layer groups"
        )
    return torch.optim.Adam(
        [{"params": g, "lr": lr * f} for g, f in zip(groups, factors, strict=True)],
        lr=lr,
        weight_decay=weight_decay,
    )


def set_trainable(model: nn.Module, frozen: bool) -> None:
    """Frozen: only the last layer group (the head) requires grad; else every parameter does."""
    groups = layer_groups(model)
    for i, group in enumerate(groups):
        for p in group:
            p.requires_grad_(not frozen or i == len(groups) - 1)
