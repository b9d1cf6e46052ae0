"""Layer groups: differential learning rates (Adam, one group per layer group), freezing, and
the training mode of frozen BatchNorm layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

__all__ = ["BN_FROZEN", "build_optimizer", "layer_groups", "set_trainable", "train_mode"]

#: What a BatchNorm layer whose parameters are all frozen does in training mode: ``eval`` (fastai
#: 0.7's ``set_train_mode``: normalise with the running statistics and leave them unchanged) or
#: ``train`` (batch statistics, running statistics updated, as ``nn.Module.train()`` does).
BN_FROZEN = ("eval", "train")


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """``model.layer_groups()`` as lists of parameters, or one group of all parameters.

    Modules inside a group are expanded into their parameters; every parameter must appear
    exactly once over all groups.
    """
    if not hasattr(model, "layer_groups"):
        return [list(model.parameters())]
    groups: list[list[nn.Parameter]] = []
    for group in cast(Any, model).layer_groups():
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


def train_mode(model: nn.Module, bn_frozen: str = "eval") -> None:
    """``model.train()``, then, with ``bn_frozen="eval"``, every BatchNorm layer whose parameters
    are all frozen (``requires_grad`` false) back in eval mode, as fastai 0.7's ``set_train_mode``
    did for the layers of frozen groups: the head-only epoch then neither normalises the body with
    batch statistics nor moves its running statistics."""
    if bn_frozen not in BN_FROZEN:
        raise ValueError(f"trainer 'torch': bn_frozen must be one of {', '.join(BN_FROZEN)}, got {bn_frozen!r}")
    model.train()
    if bn_frozen == "train":
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                module.eval()
