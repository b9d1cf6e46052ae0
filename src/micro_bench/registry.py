"""Per-kind registries built from the provider hooks.

A duplicate name is an error naming both plugins; an unknown name lists what exists and
suggests the closest; parameters are bound against the factory's signature before the call.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pluggy

from micro_bench import components
from micro_bench.components import ComponentSpec
from micro_bench.errors import ComponentError, MicroBenchError, PluginError
from micro_bench.hookcall import call_hook, first_registered

__all__ = ["Registry"]


class Registry:
    """The components of one kind, by name, with the plugin that supplied each."""

    def __init__(self, kind: str, pm: pluggy.PluginManager, *, strict: bool = False) -> None:
        self.kind = kind
        self._pm = pm
        self._strict = strict
        self._specs: dict[str, ComponentSpec] = {}
        self._owners: dict[str, str] = {}
        #: ``(plugin, message)`` for hooks that returned something other than ComponentSpecs.
        self.problems: list[tuple[str, str]] = []
        #: Plugins disabled because they provide a name an earlier plugin already provides.
        self.disabled: set[str] = set()
        self._collect()

    # -- building ---------------------------------------------------------------------------
    def _collect(self) -> None:
        hook = components.kind(self.kind).hook
        report = None if self._strict else (lambda line: self.problems.append((line.plugin, str(line))))
        for plugin, returned in first_registered(self._pm, call_hook(self._pm, hook, report)):
            try:
                specs = list(returned)
            except TypeError:
                specs = [returned]
            bad = [s for s in specs if not isinstance(s, ComponentSpec)]
            if bad:
                message = (f"plugin {plugin!r}: {hook}() must return ComponentSpec objects, "
                           f"got {type(bad[0]).__name__} {bad[0]!r}")
                if self._strict:
                    raise PluginError(message)
                self.problems.append((plugin, message))
                continue
            clash = next((s.name for s in specs if s.name in self._specs), None)
            if clash is not None:  # the one duplicate policy: the first registered plugin keeps it
                message = (f"duplicate {self.kind} {clash!r}: provided by plugin {self._owners[clash]!r} "
                           f"and by plugin {plugin!r}; {self._owners[clash]!r} wins and plugin {plugin!r} "
                           "is disabled. Rename one, or disable a plugin with MICRO_BENCH_DISABLED_PLUGINS")
                if self._strict:
                    raise ComponentError(message)
                self.problems.append((plugin, message))
                self.disabled.add(plugin)
                continue
            for spec in specs:
                self._add(spec, plugin)

    def _add(self, spec: ComponentSpec, plugin: str) -> None:
        self._specs[spec.name] = spec
        self._owners[spec.name] = plugin

    def drop(self, plugin: str) -> None:
        """Forget every component of ``plugin`` (disabled for a duplicate in another kind)."""
        for name in [n for n, owner in self._owners.items() if owner == plugin]:
            del self._specs[name], self._owners[name]

    # -- lookup -----------------------------------------------------------------------------
    def names(self) -> list[str]:
        """The names, sorted."""
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterable[str]:
        return iter(self.names())

    def spec(self, name: str) -> ComponentSpec:
        """The spec for ``name``; open namespaces (``timm:<model>``) are asked through
        ``micro_bench_resolve_component``. Unknown names raise with a suggestion."""
        if name in self._specs:
            return self._specs[name]
        found = call_hook(self._pm, "micro_bench_resolve_component", kind=self.kind, name=name)
        resolved = found[0][1] if found else None
        if resolved is not None:
            if not isinstance(resolved, ComponentSpec):
                raise PluginError(
                    f"micro_bench_resolve_component({self.kind!r}, {name!r}) returned "
                    f"{type(resolved).__name__}, expected ComponentSpec or None"
                )
            return resolved
        raise ComponentError(self.unknown_message(name))

    def default(self) -> str | None:
        """The component a run gets when its config does not set this kind's key: the one a plugin
        declares ``default=True`` for (``None``: none, or a required kind). Two declared defaults
        are a :class:`PluginError` naming both components and plugins."""
        entry = components.kind(self.kind)
        claims = [name for name, spec in self._specs.items() if spec.default]
        if entry.required or entry.key is None:
            if claims:
                raise PluginError(f"plugin {self._owners[claims[0]]!r}: {self.kind} {claims[0]!r} declares "
                                  f"default=True, but a run must name its {entry.key or self.kind} itself")
            return None
        if len(claims) > 1:
            a, b = claims[:2]
            raise PluginError(f"two default {entry.plural}: {a!r} (plugin {self._owners[a]!r}) and {b!r} (plugin "
                              f"{self._owners[b]!r}) both declare default=True; set '{entry.key}:' in the benchmark "
                              "or disable one plugin with MICRO_BENCH_DISABLED_PLUGINS")
        return claims[0] if claims else None

    def unknown_message(self, name: str, where: str = "") -> str:
        names = self.names()
        close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
        lines = [f"unknown {self.kind} {name!r}" + (f" ({where})" if where else "")]
        hint = f"Did you mean: {close[0]}?  " if close else ""
        lines.append(f"{hint}Available {components.kind(self.kind).plural}: {', '.join(names) or '(none)'}")
        return "\n".join(lines)

    def plugin_of(self, name: str) -> str:
        """The name of the plugin that provides ``name``."""
        self.spec(name)
        return self._owners.get(name, "<resolver>")

    def load(self, name: str, attr: str = "factory") -> Callable[..., Any]:
        """Import and return the factory of ``name`` (or its ``check``: ``attr="check"``)."""
        spec = self.spec(name)
        target = getattr(spec, attr)
        if callable(target):
            return target
        module_name, _, path = str(target).partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in path.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            plugin = self._owners.get(name, "<resolver>")
            raise PluginError(
                f"{self.kind} {name!r} (plugin {plugin!r}): cannot import {attr} "
                f"{target!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return obj

    def accepts(self, name: str, parameter: str) -> bool:
        """Whether the factory of ``name`` takes a keyword ``parameter`` (or ``**kwargs``)."""
        try:
            params = inspect.signature(self.load(name)).parameters.values()
        except (TypeError, ValueError):
            return False
        return any(p.name == parameter and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                   or p.kind == p.VAR_KEYWORD for p in params)

    def bind(self, name: str, params: Mapping[str, Any], where: str = "") -> inspect.BoundArguments | None:
        """Check ``params`` against the factory's signature without calling it (``None`` when the
        factory has no introspectable signature, e.g. a builtin)."""
        factory = self.load(name)
        try:
            signature = inspect.signature(factory)
        except (TypeError, ValueError):
            return None
        try:
            return signature.bind(**params)
        except TypeError as exc:
            accepted = [
                p.name for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ]
            unknown = [k for k in params if k not in accepted]
            loc = f" ({where})" if where else ""
            if unknown and not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
                close = difflib.get_close_matches(unknown[0], accepted, n=1)
                hint = f" Did you mean: {close[0]}?" if close else ""
                raise ComponentError(
                    f"{self.kind} {name!r} got unknown parameter {unknown[0]!r}{loc}.{hint} "
                    f"Parameters: {', '.join(accepted) or '(none)'}"
                ) from None
            raise ComponentError(f"{self.kind} {name!r}{loc}: {exc}") from None

    def create(self, name: str, /, **params: Any) -> Any:
        """Build component ``name`` with ``params`` (bound against the factory signature first)."""
        bound = self.bind(name, params)
        try:
            if bound is None:
                return self.load(name)(**params)
            return self.load(name)(*bound.args, **bound.kwargs)
        except ValueError as exc:  # a factory rejecting a parameter value: the user's error
            if isinstance(exc, MicroBenchError):
                raise
            raise ComponentError(f"{self.kind} {name!r}: {exc}") from exc

