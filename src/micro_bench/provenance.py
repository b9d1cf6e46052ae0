"""What produced a run: the distributions behind its components (hashed into the run key) and
the machine it ran on (``environment.json`` in the run folder).

A component's distributions are: the one that installed the plugin providing it (micro-bench
for the bundled plugins), the one that installed its factory's module, and any that its spec
names in ``extra["requires"]`` (e.g. ``timm`` for the ResNets, ``torch`` for the torch trainer),
because upgrading any of them can change the numbers. No heavy import here: torch is asked only
if the run already imported it.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["component_distributions", "environment"]


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
    from micro_bench import __version__
    from micro_bench.config import COMPONENT_KEYS

    by_plugin, registries = _plugin_dists(host), host.registries
    names: set[str] = {"micro-bench"}
    comps = [(kind, getattr(cfg, key, None)) for key, kind in COMPONENT_KEYS.items()]
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


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch() -> dict[str, Any] | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    info: dict[str, Any] = {"version": torch.__version__, "cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                            "gpus": []}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out.strip() else None


def environment(distributions: Mapping[str, str]) -> dict[str, Any]:
    """The run's machine and software, for ``environment.json``."""
    torch = _torch()
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "host": platform.node(),
        "torch": torch,
        "gpu_driver": _nvidia_driver() if torch and torch["gpus"] else None,
        "distributions": dict(distributions),
    }
