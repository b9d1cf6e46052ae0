"""Layer groups: differential learning rates (one optimizer parameter group per layer group,
built by timm's ``create_optimizer_v2``), freezing, and the training mode of frozen BatchNorm.

One rule for every model (docs/models.md, "Layer groups"):

- a model with a ``layer_groups()`` method (every bundled model; timm models through
  :class:`~micro_bench_resnet.model.TimmClassifier`: timm's coarse ``group_matcher`` split in two
  halves of the body plus the classifier, the paper's split for ResNets) is split as it says;
- any other ``nn.Module``: the modules that own parameters, in ``named_modules()`` order (the order
  they were registered), cut into ``len(lr_groups)`` contiguous runs of (nearly) equal length; the
  last run is the "head" that trains alone while ``freeze_epochs`` lasts.

A model with fewer groups than ``lr_groups`` gets the last factors (the head keeps ``lr``), and
:func:`describe_groups` says so; the trainer writes it to the log and the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

__all__ = ["BN_FROZEN", "OPTIMIZER_DEFAULT", "build_optimizer", "check_optimizer", "describe_groups",
           "describe_optimizer", "group_factors",
           "layer_groups", "no_weight_decay_names", "set_trainable", "train_mode"]

#: What a BatchNorm layer whose parameters are all frozen does in training mode: ``eval`` (fastai
#: 0.7's ``set_train_mode``: normalise with the running statistics and leave them unchanged) or
#: ``train`` (batch statistics, running statistics updated, as ``nn.Module.train()`` does).
BN_FROZEN = ("eval", "train")

#: The paper's optimizer: fastai 0.7 with ``opt_fn=optim.Adam`` (torch's Adam: betas 0.9/0.999,
#: eps 1e-8, no weight decay).
OPTIMIZER_DEFAULT = "adam"

#: The number of layer groups the paper's recipe uses (``lr_groups`` lr/10, lr/3, lr).
PAPER_GROUPS = 3


def _expand(group: Any) -> list[nn.Parameter]:
    items = [group] if isinstance(group, nn.Module | torch.Tensor) else list(group)
    params: list[nn.Parameter] = []
    for item in items:
        params.extend(item.parameters() if isinstance(item, nn.Module) else [cast(nn.Parameter, item)])
    return params


def _by_module_order(model: nn.Module, n: int) -> list[list[nn.Parameter]]:
    owners = [list(m.parameters(recurse=False)) for _, m in model.named_modules()]
    owners = [params for params in owners if params]
    if not owners:
        return [[]]
    runs = np.array_split(np.arange(len(owners)), min(n, len(owners)))
    return [[p for i in run for p in owners[int(i)]] for run in runs]


def layer_groups(model: nn.Module, n: int = PAPER_GROUPS) -> list[list[nn.Parameter]]:
    """The layer groups of ``model`` as lists of parameters (see the module's rule).

    ``model.layer_groups()`` when it has one (modules inside a group are expanded into their
    parameters; every parameter must appear exactly once); else the parameter-owning modules in
    registration order cut into ``n`` contiguous runs (fewer when there are fewer modules).
    """
    if not hasattr(model, "layer_groups"):
        return _by_module_order(model, n)
    groups = [_expand(group) for group in cast(Any, model).layer_groups()]
    seen = [id(p) for g in groups for p in g]
    if len(seen) != len(set(seen)) or set(seen) != {id(p) for p in model.parameters()}:
        raise ValueError(
            f"{type(model).__name__}.layer_groups() must list every parameter exactly once"
        )
    return groups


def group_factors(groups: Sequence[Sequence[nn.Parameter]], lr_groups: Sequence[float],
                  model: nn.Module | None = None) -> list[float]:
    """One learning-rate factor per group: ``lr_groups`` itself, or its last ``len(groups)``
    factors when the model has fewer groups (the head keeps the base rate)."""
    factors = list(lr_groups)
    if len(groups) > len(factors):
        name = type(model).__name__ if model is not None else "the model"
        raise ValueError(
            f"trainer 'torch': lr_groups has {len(lr_groups)} factors but {name} has "
            f"{len(groups)} layer groups; give one factor per group"
        )
    return factors[len(factors) - len(groups):]


def describe_groups(model: nn.Module, lr_groups: Sequence[float]) -> dict[str, Any]:
    """What the trainer records about the layer groups: how they were made, their sizes, the
    factors used and, when the model has fewer groups than ``lr_groups``, a ``note`` saying so."""
    groups = layer_groups(model, len(lr_groups))
    factors = group_factors(groups, lr_groups, model)
    record: dict[str, Any] = {
        "rule": "layer_groups()" if hasattr(model, "layer_groups") else "modules in order",
        "count": len(groups), "parameters": [sum(p.numel() for p in g) for g in groups],
        "lr_factors": factors,
    }
    if len(groups) < len(lr_groups):
        frozen = "nothing is frozen during freeze_epochs" if len(groups) == 1 else (
            f"freeze_epochs trains the last of the {len(groups)} groups")
        record["note"] = (f"{type(model).__name__} has {len(groups)} layer group(s), fewer than the "
                          f"{len(lr_groups)} lr_groups factors; using the last {len(groups)} "
                          f"({', '.join(f'{f:g}' for f in factors)}); {frozen}")
    return record


def no_weight_decay_names(model: nn.Module) -> set[str]:
    """Parameter names a timm model exempts from weight decay (``no_weight_decay()``: position
    embeddings, class tokens), also through a wrapper's ``net`` attribute."""
    names: set[str] = set()
    for prefix, module in (("", model), ("net.", getattr(model, "net", None))):
        method = getattr(module, "no_weight_decay", None)
        if isinstance(module, nn.Module) and callable(method):
            names |= {prefix + str(n) for n in method()}
    return names


def build_optimizer(
    model: nn.Module, lr: float, lr_groups: Sequence[float], weight_decay: float = 0.0,
    optimizer: str = OPTIMIZER_DEFAULT, momentum: float = 0.9,
    options: Mapping[str, Any] | None = None,
) -> torch.optim.Optimizer:
    """timm's ``optimizer`` with one parameter group per layer group, group ``i`` at
    ``lr * factor_i`` (:func:`group_factors`).

    Built by ``timm.optim.create_optimizer_v2`` (so ``adam`` is torch's Adam, ``adamw`` AdamW,
    ``sgd`` SGD with Nesterov momentum, ``momentum`` plain momentum SGD, ...). With
    ``weight_decay > 0`` each layer group is split as timm splits a model: biases, 1-d parameters
    (norms) and the model's ``no_weight_decay()`` names get none. ``options``: further keywords
    for the optimizer (``betas``, ``eps``, ...).
    """
    from timm.optim import create_optimizer_v2

    groups = layer_groups(model, len(lr_groups))
    factors = group_factors(groups, lr_groups, model)
    names = {id(p): n for n, p in model.named_parameters()}
    skip = no_weight_decay_names(model)
    params: list[dict[str, Any]] = []
    for group, factor in zip(groups, factors, strict=True):
        if not weight_decay:
            params.append({"params": group, "lr": lr * factor})
            continue
        quiet = [p for p in group if p.ndim <= 1 or names.get(id(p), "").endswith(".bias")
                 or names.get(id(p)) in skip]
        loud = [p for p in group if all(p is not q for q in quiet)]
        params += [{"params": ps, "lr": lr * factor, "weight_decay": wd}
                   for ps, wd in ((quiet, 0.0), (loud, float(weight_decay))) if ps]
    try:
        # each group carries its own decay; the default is 0 as in timm's own split
        return create_optimizer_v2(params, opt=optimizer, lr=lr, weight_decay=0.0,
                                   momentum=momentum, **dict(options or {}))
    except (ValueError, TypeError) as error:  # timm: unknown name; torch: unknown keyword
        raise ValueError(f"trainer 'torch': optimizer {optimizer!r}: {error}") from None


def check_optimizer(name: object) -> str:
    """``name`` if timm has an optimizer of that name, else a one-line :class:`ValueError` with
    the closest names."""
    import difflib

    from timm.optim import list_optimizers

    known = [str(n) for n in list_optimizers()]
    if isinstance(name, str) and name.lower() in known:
        return name.lower()
    close = difflib.get_close_matches(str(name).lower(), known, n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ValueError(f"trainer 'torch': unknown optimizer {name!r}; {hint}timm's optimizers: "
                     "adam, adamw, sgd (Nesterov), momentum, rmsprop, lamb, ... (timm.optim.list_optimizers())")


def describe_optimizer(optimizer: torch.optim.Optimizer, name: str) -> dict[str, Any]:
    """The optimizer as the result records it: timm's name, the class and its default settings
    (per-group learning rates and weight decay are in ``param_groups``)."""
    plain = (int, float, bool, str, type(None))
    defaults = {k: (list(v) if isinstance(v, tuple) else v) for k, v in optimizer.defaults.items()
                if isinstance(v, (*plain, tuple))}
    return {"name": name, "class": f"{type(optimizer).__module__}.{type(optimizer).__qualname__}",
            "defaults": defaults,
            "param_groups": [{"lr": float(g["lr"]), "weight_decay": float(g.get("weight_decay", 0.0)),
                              "parameters": int(sum(p.numel() for p in g["params"]))}
                             for g in optimizer.param_groups]}


def set_trainable(model: nn.Module, frozen: bool, n: int = PAPER_GROUPS) -> None:
    """Frozen: only the last layer group (the head) requires grad; else every parameter does."""
    groups = layer_groups(model, n)
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
