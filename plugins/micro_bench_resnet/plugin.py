"""Entry module of the ``resnet`` plugin: model specs and the ``timm:<name>`` resolver.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings.
"""

from __future__ import annotations

import functools

from micro_bench import ComponentSpec, hookimpl

__all__ = ["micro_bench_models", "micro_bench_resolve_component"]

_PAPER = {"paper": "Zhao & Tang: ResNet50, ImageNet weights, 4-channel stem, dropout 0.5"}


#: Conformance checks build the model offline (random weights), never from the hub.
#: Upgrading these can change a run's numbers, so their versions go into the run key.
_REQUIRES = {"requires": ["timm", "torch"]}
_OFFLINE = {"conformance_params": {"pretrained": False}, **_REQUIRES}


@hookimpl
def micro_bench_models() -> list[ComponentSpec]:
    """``resnet18_4ch``, ``resnet34_4ch`` and ``resnet50_4ch`` (the paper's model)."""
    return [
        ComponentSpec(
            "resnet50_4ch",
            "micro_bench_resnet.model:resnet50_4ch",
            "ResNet50 (timm resnet50.tv_in1k) with a 4-channel stem and 3 fastai layer groups",
            {**_PAPER, **_OFFLINE},
        ),
        ComponentSpec(
            "resnet34_4ch",
            "micro_bench_resnet.model:resnet34_4ch",
            "ResNet34 (timm resnet34.tv_in1k) with a 4-channel stem and 3 fastai layer groups",
            _OFFLINE,
        ),
        ComponentSpec(
            "resnet18_4ch",
            "micro_bench_resnet.model:resnet18_4ch",
            "ResNet18 (timm resnet18.tv_in1k) with a 4-channel stem and 3 fastai layer groups",
            _OFFLINE,
        ),
    ]


@hookimpl
def micro_bench_resolve_component(kind: str, name: str) -> ComponentSpec | None:
    """Resolve ``model: timm:<architecture>`` (any timm model name, e.g. ``timm:resnet50.a1_in1k``)."""
    if kind != "model" or not name.startswith("timm:") or len(name) <= len("timm:"):
        return None
    from micro_bench_resnet.model import timm_model  # light: the module imports torch lazily

    return ComponentSpec(
        name,
        functools.partial(timm_model, name[len("timm:") :]),
        f"timm model {name[len('timm:'):]!r} with fastai layer groups",
        _REQUIRES,
    )
