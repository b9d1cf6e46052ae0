"""Merging config layers: deep merge with the component rule, and ``--set KEY.PATH=VALUE``.

Mappings merge key by key; a component mapping whose ``name`` differs from the one it overrides
replaces it (its parameters would not fit the other factory); lists and scalars replace.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from micro_bench.errors import ConfigError

__all__ = ["apply_set", "deep_merge", "parse_set", "type_name"]


def type_name(value: Any) -> str:
    """``null`` or the value's type name, for error messages."""
    return "null" if value is None else type(value).__name__


def deep_merge(base: Any, over: Any) -> Any:
    """Merge ``over`` onto ``base`` (see the module docstring); neither is modified."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        if "name" in over and "name" in base and over["name"] != base["name"]:
            return copy.deepcopy(dict(over))
        merged = copy.deepcopy(dict(base))
        for key, value in over.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    if isinstance(base, str) and isinstance(over, Mapping) and "name" not in over:
        return deep_merge({"name": base}, over)  # `loss: focal` then `loss: {gamma: 1}`
    return copy.deepcopy(over)


def parse_set(expr: str) -> tuple[list[str], Any]:
    """``"trainer.lr=0.01"`` -> (["trainer", "lr"], 0.01); the value is read as YAML."""
    key, sep, raw = expr.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set {expr!r}: expected KEY.PATH=VALUE, e.g. trainer.lr=0.01")
    from micro_bench.yamlio import load_yaml_text

    value = load_yaml_text(raw, f"--set {expr!r}") if raw.strip() else None
    return key.strip().split("."), value


def apply_set(target: dict[str, Any], path: list[str], value: Any, expr: str, *,
              settable: Collection[str], components: Collection[str]) -> None:
    """Set ``target[path...] = value`` (``--set``); a component given as a string becomes a mapping."""
    if path[0] not in settable:
        raise ConfigError(f"--set {expr!r}: unknown key {path[0]!r}; settable: {', '.join(sorted(settable))}")
    node: Any = target
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if isinstance(child, str) and path[0] in components and i == 0:
            child = node[part] = {"name": child}
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {expr!r}: {'.'.join(path[: i + 1])} is a {type_name(child)}, not a mapping")
        node = child
    node[path[-1]] = deep_merge(node.get(path[-1]), value) if isinstance(value, Mapping) else value
