"""Entry module of the ``resnet`` plugin: model specs and the ``timm:<name>`` resolver.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from micro_bench import ComponentSpec, Param, hookimpl
from micro_bench.params import seed_param

__all__ = ["micro_bench_configure", "micro_bench_models", "micro_bench_resolve_component"]

_PAPER = {"paper": "Zhao & Tang: ResNet50, ImageNet weights, 4-channel stem, dropout 0.5"}


#: Conformance checks build the model offline (random weights), never from the hub.
#: Upgrading these can change a run's numbers, so their versions go into the run key.
_REQUIRES = {"requires": ["timm", "torch"]}
#: What the torch trainer's parameters are checked against (``lr_groups``, ``batch_size``): three
#: fastai layer groups, and BatchNorm, which cannot train on a batch of one sample.
_PROVIDES = {"provides": {"layer_groups": 3, "min_batch": 2}}
#: Every parameter of the resnet factories (``num_classes``, ``in_chans`` come from the dataset).
RESNET_PARAMS = {
    "pretrained": Param(("bool", "str"), nullable=True, doc="imagenet, a local weights file, or false"),
    "stem_init": Param("str", choices=("copy_red", "timm", "zeros", "mean")),
    "dropout": Param(("float", "list[float]"), ge=0, lt=1, min_length=1, max_length=2, doc="one rate, or one per head dropout"),
    "head": Param("str", choices=("fastai", "linear")),
    "seed": Param("int", ge=0, le=seed_param().le, nullable=True, doc="weight initialisation (null: the run's seed)"),
}
_OFFLINE = {"conformance_params": {"pretrained": False}, **_REQUIRES, **_PROVIDES, "params": RESNET_PARAMS}


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
    """Resolve ``model: timm:<architecture>`` (any timm model name, e.g. ``timm:resnet50.a1_in1k``).

    The factory's signature is :func:`~micro_bench_resnet.model.timm_model`'s plus every keyword
    of that model's ``create_model`` (``img_size``, ``drop_path_rate``, ...), so ``validate`` and
    ``run`` reject an unknown keyword in one line naming it; an unknown name raises a one-line
    :class:`~micro_bench.errors.ComponentError` with the closest timm names.
    """
    if kind != "model" or not name.startswith("timm:") or len(name) <= len("timm:"):
        return None
    arch = name[len("timm:") :]
    # min_batch 2 for every timm model: the fastai head and most timm bodies hold BatchNorm, which
    # cannot train on one sample (a batch of one is refused at validate, not deep in torch); the
    # wrapper's own parameters (dropout, head, ...) checked as the resnet models' are; timm's own
    # keywords by the factory's signature
    return ComponentSpec(name, timm_factory(arch), f"timm model {arch!r} with fastai layer groups",
                         {**_REQUIRES, "provides": {"min_batch": 2}, "params": RESNET_PARAMS})


@hookimpl
def micro_bench_configure(config: Any) -> None:
    """Refuse, before any work, a ``timm:`` model with a fixed input size (ViT, Swin with a strict
    ``img_size``) at another ``dataset.resolution`` (one line naming the row's ``model`` key and
    the fix, e.g. ``set model.img_size: 32``); see :mod:`micro_bench_resnet.inputsize`."""
    runs = [run for run in config.runs if run.model.name.startswith("timm:") and len(run.model.name) > len("timm:")]
    if not runs:
        return  # nothing imported for configs without timm models
    from micro_bench.errors import ConfigError
    from micro_bench_resnet.inputsize import check_input_size

    for run in runs:
        problem = check_input_size(run.model.name, run.model.params, run.dataset.params.get("resolution"))
        if problem is not None:
            where = run.origins.get("model", "model")
            raise ConfigError(f"{where}: {problem}")


def timm_factory(arch: str) -> Callable[..., Any]:
    """``timm_model`` bound to ``arch``, with a signature naming the model's timm keywords."""
    import inspect

    from micro_bench_resnet.model import check_timm_name, timm_keywords, timm_model

    check_timm_name(arch)
    names, open_ended = timm_keywords(arch)
    own = [p for p in inspect.signature(timm_model).parameters.values()
           if p.name != "arch" and p.kind != p.VAR_KEYWORD]
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in names.items()]
    if open_ended:
        extra.append(inspect.Parameter("timm_kwargs", inspect.Parameter.VAR_KEYWORD))
    factory = functools.partial(timm_model, arch)
    factory.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(annotation=inspect.Parameter.empty) for p in own] + extra)
    return factory
