"""What produced a run: the distributions behind its components, hashed into the run key and
recorded in ``config.json`` (the bundled ``environment`` plugin adds the machine,
``environment.json``).

A component's distributions are: the one that installed the plugin providing it (micro-bench
for the bundled plugins), the one that installed its factory's module, and any that its spec
names in ``extra["requires"]`` (e.g. ``timm`` for the ResNets, ``torch`` for the torch trainer),
because upgrading any of them can change the numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["component_distributions"]


@functools.lru_cache(maxsize=1)
def _module_dists() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _factory_module(factory: Any) -> str | None:
    if isinstance(factory, str):
        return factory.partition(":")[0]
    inner = getattr(factory, "func", factory)  # functools.partial
    return getattr(inner, "__module__", None)


def _plugin_dists(host: Host) -> dict[str, str | None]:
    return {info.name: info.distribution for info in host.plugin_infos()}


def component_distributions(cfg: Any, host: Host) -> dict[str, str]:
    """``{distribution: version}`` of everything that provided a component of run config ``cfg``."""
    from micro_bench._version import __version__
    from micro_bench.components import configured

    by_plugin, registries = _plugin_dists(host), host.registries
    names: set[str] = {"micro-bench"}
    comps = [(entry.name, cfg.components.get(key)) for key, entry in configured().items()]
    comps += [("metric", m) for m in cfg.metrics]
    for kind, comp in comps:
        if comp is None:
            continue
        registry = registries[kind]
        spec = registry.spec(comp.name)
        dist = by_plugin.get(registry.plugin_of(comp.name))
        if dist:
            names.add(dist)
        module = _factory_module(spec.factory)
        if module:
            names.update(_module_dists().get(module.split(".")[0], ()))
        names.update(spec.extra.get("requires", ()))
    out = {name: _version(name) or (__version__ if name == "micro-bench" else "unknown") for name in names}
    return dict(sorted(out.items()))
