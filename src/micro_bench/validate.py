"""Check a loaded benchmark against the registries before anything is trained: every component
exists, and its parameters pass the same binding, type and range checks ``run`` applies.

Components cheap to build (trainer, loss, scheduler, transform, tta, metrics) are built by the
very code the runner uses (:func:`micro_bench.build.create`), so a factory's own range check runs
here too; datasets and models (expensive: data, weights) are bound against their factory and
checked by their spec's ``check`` callable. Nothing heavier than the components' own modules is
imported: a config without torch components does not import torch.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from micro_bench.build import bind_component, create, facts_of, no_sampler, takes_sampler
from micro_bench.components import configured, kind
from micro_bench.config import BenchmarkConfig, Component
from micro_bench.hookcall import call_hook

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["validate_config"]

#: Stands in for what the runner takes from the dataset (``num_classes``, ``in_chans``) when a
#: model's parameters are bound without building the dataset.
FROM_DATASET = object()


def _check(host: Host, kind_name: str, comp: Component, where: str, seen: set[str],
           facts: dict[str, Any] | None = None) -> None:
    key = repr((kind_name, comp.to_dict(), sorted((facts or {}).items())))
    if key in seen:  # the same component in several runs: checked once
        return
    seen.add(key)
    registry = host.registries[kind_name]
    if kind(kind_name).built:  # cheap to build (no data, no weights): built by the runner's code
        create(registry, comp, where, facts=facts)
    elif kind_name == "model":
        bind_component(registry, comp, where, {"num_classes": FROM_DATASET, "in_chans": FROM_DATASET},
                       check=False, facts=facts)
    else:
        bind_component(registry, comp, where, facts=facts)


def _check_split_method(host: Host, run: Any) -> None:
    """``split.method`` against the methods the dataset's spec declares (``extra["split_methods"]``;
    a dataset that declares none is checked when its split is built)."""
    from micro_bench.errors import ComponentError, ConfigError

    try:
        declared = host.registries["dataset"].spec(run.dataset.name).extra.get("split_methods")
    except ComponentError:
        return
    if declared is not None and run.split["method"] not in declared:
        raise ConfigError(f"{run.origins.get('split', 'split')}.method: unknown split method {run.split['method']!r}; "
                          f"dataset {run.dataset.name!r} implements: {', '.join(declared)}")


def validate_config(config: BenchmarkConfig, host: Host) -> None:
    """Raise :class:`~micro_bench.errors.ConfigError` naming the file and key path of the first
    problem, then let plugins inspect the config (``micro_bench_configure``)."""
    seen: set[str] = set()
    for run in config.runs:
        facts = facts_of(run, host)
        for key, entry in configured().items():
            comp = run.components.get(key)
            if comp is not None:
                _check(host, entry.name, comp, run.origins.get(key, key), seen, facts)
        for j, metric in enumerate(run.metrics):
            _check(host, "metric", metric, f"{run.origins.get('metrics', 'metrics')}[{j}]", seen)
        _check_split_method(host, run)
        rule = run.evaluate["threshold"]
        if isinstance(rule, str):
            _check(host, "threshold", Component(rule), f"{run.origins.get('evaluate', 'evaluate')}.threshold", seen)
        factory = host.registries["trainer"].load(run.trainer.name)
        if run.sampler is not None and isinstance(factory, type) and not takes_sampler(factory):
            raise no_sampler(run.trainer.name, run.origins.get("sampler", "sampler"))  # else: checked at run
    # a plugin's ConfigError rejects the file; any other exception is reported
    call_hook(host.pm, "micro_bench_configure", lambda m: sys.stderr.write(f"warning: {m}\n"),
                  user_errors=True, config=config)
