"""Check a loaded benchmark against the registries: every component exists and its parameters
fit its factory, before anything is built or run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from micro_bench.config import COMPONENT_KEYS, BenchmarkConfig, Component
from micro_bench.errors import ComponentError, ConfigError

__all__ = ["MODEL_INJECTED", "check_param_types", "validate_config"]

#: Parameters the runner passes to every model factory (taken from the dataset).
MODEL_INJECTED = {"num_classes": 28, "in_chans": 4}
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


def _check(registries: Mapping[str, Any], kind: str, comp: Component, where: str, path: str, extra: Mapping[str, Any]) -> None:
    registry = registries[kind]
    loc = f"{path}: {where}"
    try:
        registry.spec(comp.name)
    except ComponentError:
        raise ConfigError(registry.unknown_message(comp.name, loc)) from None
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
            extra = MODEL_INJECTED if kind == "model" else {}
            _check(registries, kind, comp, run.origins.get(key, key), str(config.path), extra)
        for j, metric in enumerate(run.metrics):
            _check(registries, "metric", metric, f"{run.origins.get('metrics', 'metrics')}[{j}]", str(config.path), {})
    if pm is not None:
        pm.hook.micro_bench_configure(config=config)
