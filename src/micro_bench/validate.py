"""Check a loaded benchmark against the registries: every component exists and its parameters
fit its factory, before anything is built or run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from micro_bench.config import COMPONENT_KEYS, BenchmarkConfig, Component
from micro_bench.errors import ComponentError, ConfigError

__all__ = ["MODEL_INJECTED", "check_param_types", "model_extra", "validate_config"]

#: Parameters the runner passes to every model factory (taken from the dataset).
MODEL_INJECTED = {"num_classes": 28, "in_chans": 4}


def model_extra(registry: Any, name: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """What the runner adds to a model's parameters: ``seed`` (the run's) when the factory takes
    one and the config does not set it, so initialisation never depends on the global RNG."""
    if "seed" not in params and registry.accepts(name, "seed"):
        return {"seed": seed}
    return {}
_SIMPLE: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool, "str": str}


def check_param_types(factory: Any, params: Mapping[str, Any], where: str) -> None:
    """Reject values whose type contradicts a simple annotation (``float``, ``int``, ``bool``, ``str``)."""
    import inspect

    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    for key, value in params.items():
        param = signature.parameters.get(key)
        if param is None or param.annotation is inspect.Parameter.empty:
            continue
        annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
        expected = _SIMPLE.get(annotation)
        if expected is None:
            continue
        bad = not isinstance(value, expected) or (annotation != "bool" and isinstance(value, bool))
        if bad:
            raise ConfigError(f"{where}.{key}: expected {annotation}, got {type(value).__name__} {value!r}")


def _check(registries: Mapping[str, Any], kind: str, comp: Component, where: str, path: str, seed: int) -> None:
    registry = registries[kind]
    # origins already name their source (the file, or the --set that changed the key)
    loc = where if where.startswith((f"{path}:", "--set ")) else f"{path}: {where}"
    try:
        registry.spec(comp.name)
    except ComponentError:
        raise ConfigError(registry.unknown_message(comp.name, loc)) from None
    extra = ({**MODEL_INJECTED, **model_extra(registry, comp.name, comp.params, seed)}
             if kind == "model" else {})
    try:
        registry.bind(comp.name, {**comp.params, **extra}, where=loc)
    except ComponentError as exc:
        raise ConfigError(str(exc)) from None
    check_param_types(registry.load(comp.name), comp.params, loc)


def validate_config(config: BenchmarkConfig, registries: Mapping[str, Any], pm: Any = None) -> None:
    """Raise :class:`ConfigError` naming the file and key path of the first problem found."""
    for run in config.runs:
        for key, kind in COMPONENT_KEYS.items():
            comp = getattr(run, key)
            if comp is None:
                continue
            _check(registries, kind, comp, run.origins.get(key, key), str(config.path), run.seed)
        for j, metric in enumerate(run.metrics):
            _check(registries, "metric", metric, f"{run.origins.get('metrics', 'metrics')}[{j}]", str(config.path), run.seed)
    if pm is not None:  # a plugin's ConfigError rejects the file; any other exception is reported
        import sys

        from micro_bench.hookcall import call_isolated

        call_isolated(pm.hook.micro_bench_configure, lambda m: sys.stderr.write(f"warning: {m}\n"),
                      user_errors=True, config=config)
