"""Build the plugin manager: bundled plugins, entry-point plugins, a local plugins folder.

No manager is built at import time. Each third-party plugin is loaded inside its own ``try``: a
broken one is recorded (name, distribution, error, what to do) and the rest keep working.

Environment:
    ``MICRO_BENCH_STRICT_PLUGINS=1``: a plugin that fails to load is fatal.
    ``MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD=1``: do not load entry-point plugins.
    ``MICRO_BENCH_DISABLED_PLUGINS=a,b``: skip these plugins (entry-point or bundled names).
    ``MICRO_BENCH_PLUGINS_DIR=DIR``: import every ``*.py`` in DIR as a plugin.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pluggy

from micro_bench import hookspecs
from micro_bench.errors import PluginError

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "get_plugin_manager",
    "make_plugin_manager",
    "plugin_infos",
    "set_plugin_manager",
]

ENTRY_POINT_GROUP = "micro_bench"

#: Bundled plugins, registered like third-party ones but from this explicit tuple.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "micro_bench_hpa.plugin",
    "micro_bench_baselines.plugin",
    "micro_bench_resnet.plugin",
    "micro_bench_torch.plugin",
    "micro_bench_losses.plugin",
    "micro_bench_schedulers.plugin",
    "micro_bench_tta.plugin",
    "micro_bench_metrics.plugin",
    "micro_bench_predict.plugin",
    "micro_bench_report.plugin",
    "micro_bench_tensorboard.plugin",
    "micro_bench_mlflow.plugin",
    "micro_bench_dask.plugin",
)


@dataclass(frozen=True)
class PluginInfo:
    """What ``micro-bench plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # "ok" | "broken" | "disabled"
    error: str | None = None
    source: str = "builtin"  # "builtin" | "entrypoint" | "plugins_dir" | "registered"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_PM: pluggy.PluginManager | None = None


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled() -> set[str]:
    raw = os.environ.get("MICRO_BENCH_DISABLED_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    infos: list[PluginInfo] = pm.__dict__.setdefault("_micro_bench_infos", [])
    return infos


def _record(pm: pluggy.PluginManager, info: PluginInfo, strict: bool) -> None:
    _infos(pm).append(info)
    if info.status == "broken" and strict:
        raise PluginError(
            f"plugin {info.name!r} ({info.distribution or info.module}) failed to load: {info.error}"
        )


def _register_module(pm: pluggy.PluginManager, module_name: str, name: str) -> None:
    module = importlib.import_module(module_name)
    pm.register(module, name=name)


def _load_entrypoints(pm: pluggy.PluginManager, strict: bool, disabled: set[str]) -> None:
    from importlib.metadata import entry_points

    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        version = dist.version if dist is not None else None
        def info(status: str = "ok", error: str | None = None) -> PluginInfo:
            return PluginInfo(ep.name, ep.value, dist_name, version, status, error, "entrypoint")  # noqa: B023

        if ep.name in disabled:
            _record(pm, info("disabled"), strict)
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not brick the tool
            error = (
                f"{type(exc).__name__}: {exc}. Fix or upgrade {dist_name or ep.value}, "
                f"or skip it with MICRO_BENCH_DISABLED_PLUGINS={ep.name}"
            )
            _record(pm, info("broken", error), strict)
            continue
        _record(pm, info(), strict)


def _load_plugins_dir(pm: pluggy.PluginManager, directory: Path, strict: bool) -> None:
    if not directory.is_dir():
        raise PluginError(f"plugins directory {str(directory)!r} does not exist or is not a folder")
    for path in sorted(directory.glob("*.py")):
        name = path.stem
        module_name = f"micro_bench_local_{name}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}. Fix {path}"
            _record(pm, PluginInfo(name, str(path), status="broken", error=error, source="plugins_dir"), strict)
            continue
        _record(pm, PluginInfo(name, str(path), source="plugins_dir"), strict)


def make_plugin_manager(
    *,
    builtins: bool = True,
    entrypoints: bool | None = None,
    plugins_dir: str | Path | None = None,
    plugins: Iterable[object] = (),
) -> pluggy.PluginManager:
    """Build a new plugin manager.

    Args:
        builtins: register :data:`BUILTIN_PLUGINS`.
        entrypoints: load the ``micro_bench`` entry-point group; ``None`` honours
            ``MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD``.
        plugins_dir: a folder whose ``*.py`` files are plugins (default ``MICRO_BENCH_PLUGINS_DIR``).
        plugins: extra plugin objects (modules, classes or instances) to register.
    """
    strict = _truthy("MICRO_BENCH_STRICT_PLUGINS")
    disabled = _disabled()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    _infos(pm)
    if builtins:
        for module_name in BUILTIN_PLUGINS:
            name = module_name.split(".")[0]
            if name in disabled:
                _record(pm, PluginInfo(name, module_name, status="disabled"), strict)
                continue
            try:
                _register_module(pm, module_name, name)
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__}: {exc}. Reinstall micro-bench"
                _record(pm, PluginInfo(name, module_name, "micro-bench", status="broken", error=error), strict)
                continue
            _record(pm, PluginInfo(name, module_name, "micro-bench", _version()), strict)
    if entrypoints is None:
        entrypoints = not _truthy("MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD")
    if entrypoints:
        _load_entrypoints(pm, strict, disabled)
    folder = plugins_dir or os.environ.get("MICRO_BENCH_PLUGINS_DIR") or None
    if folder:
        _load_plugins_dir(pm, Path(folder), strict)
    for plugin in plugins:
        registered = pm.register(plugin)
        _record(pm, PluginInfo(str(registered), repr(plugin), source="registered"), strict)
    return pm


def _version() -> str:
    from micro_bench import __version__

    return __version__


def get_plugin_manager(**kwargs: Any) -> pluggy.PluginManager:
    """The process-wide manager, built on first call (``kwargs`` go to :func:`make_plugin_manager`)."""
    global _PM
    if _PM is None:
        _PM = make_plugin_manager(**kwargs)
    return _PM


def set_plugin_manager(pm: pluggy.PluginManager | None) -> pluggy.PluginManager | None:
    """Replace the process-wide manager (``None`` resets it); returns the previous one."""
    global _PM
    previous, _PM = _PM, pm
    from micro_bench import registry

    registry.clear_cache()
    return previous


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every plugin the manager tried to load, in load order, including broken and disabled ones.

    Plugins registered directly with ``pm.register`` after construction are listed as ``registered``.
    """
    infos = list(_infos(pm))
    known = {info.name for info in infos}
    for name, plugin in pm.list_name_plugin():
        if name not in known and plugin is not None:
            infos.append(PluginInfo(str(name), getattr(plugin, "__name__", repr(plugin)), source="registered"))
    return infos
