"""The host: one object that owns the plugin manager, what it loaded and the registries.

Like pytest's ``Config`` (or tox's plugin manager), it is built once by whoever starts the work
(the CLI, a test, a script: ``Host.load()``) and passed explicitly to the runner, executors and
plugin commands. No manager exists at import time and there is no process-wide singleton.

Loading: bundled plugins from :data:`BUILTIN_PLUGINS`, then entry points, then a plugins folder,
then plugin objects given by the caller, each inside its own ``try``: a broken plugin is recorded
(name, distribution, error, what to do) and the rest keep working. After loading, every hook
implementation must match a hook spec (pluggy's ``check_pending``): a misspelled hook marks its
plugin broken, naming the plugin and the hook. Environment: ``MICRO_BENCH_STRICT_PLUGINS=1``
(any load failure is fatal), ``MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD=1`` (no entry points),
``MICRO_BENCH_DISABLED_PLUGINS=a,b``, ``MICRO_BENCH_PLUGINS_DIR=DIR`` (every ``*.py`` in DIR).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from micro_bench import components, hookspecs
from micro_bench.errors import PluginError
from micro_bench.hookcall import guard
from micro_bench.registry import Registry

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "ESSENTIAL_PLUGINS", "RENAMED_PLUGINS", "Host", "PluginInfo", "main"]

ENTRY_POINT_GROUP = "micro_bench"

#: Bundled plugins, registered like third-party ones but from this explicit tuple.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "micro_bench_hpa.plugin",
    "micro_bench_baselines.plugin",
    "micro_bench_resnet.plugin",
    "micro_bench_torch.plugin",
    "micro_bench_losses.plugin",
    "micro_bench_schedulers.plugin",
    "micro_bench_transforms.plugin",
    "micro_bench_tta.plugin",
    "micro_bench_metrics.plugin",
    "micro_bench_predict.plugin",
    "micro_bench_select.plugin",
    "micro_bench_report.plugin",
    "micro_bench_loggers.plugin",
    "micro_bench_dask.plugin",
    "micro_bench_samplers.plugin",
    "micro_bench_conformance.plugin",
    "micro_bench_tables.plugin",
    "micro_bench_commands.plugin",
    "micro_bench_environment.plugin",
    "micro_bench_local.plugin",
    "micro_bench_export.plugin",
)


#: Bundled plugins the tool needs to start (the command line, the default executor): like pytest's
#: essential plugins they cannot be disabled with ``MICRO_BENCH_DISABLED_PLUGINS``.
ESSENTIAL_PLUGINS: tuple[str, ...] = ("micro_bench_commands", "micro_bench_local")
#: Former bundled plugin names and the plugin that holds them now: ``MICRO_BENCH_DISABLED_PLUGINS``
#: naming an old one disables the new one (all of it), and ``micro-bench plugins`` says so.
RENAMED_PLUGINS: dict[str, str] = {"micro_bench_tensorboard": "micro_bench_loggers",
                                   "micro_bench_mlflow": "micro_bench_loggers"}
#: The command line's entry (the console script ``micro-bench`` names the same callable).
CLI_MAIN = "micro_bench_commands.cli:main"


def main() -> None:
    """``python -m micro_bench``: the essential commands plugin's command line."""
    module, _, attr = CLI_MAIN.partition(":")
    getattr(importlib.import_module(module), attr)()


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


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class Host:
    """The plugin manager (``pm``), the record of every plugin load (``infos``), the per-kind
    registries and the problems plugins raised at run time (``problems``)."""

    def __init__(self, *, strict: bool | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._strict = strict
        self.infos: list[PluginInfo] = []
        #: ``(plugin, message)`` of plugins whose hooks failed after loading (e.g. add_commands).
        self.problems: list[tuple[str, str]] = []
        self._registries: dict[str, Registry] | None = None
        #: Where each plugin's code lives (package folder or file), for :mod:`micro_bench.blame`.
        self._roots: dict[str, Path] = {}

    @classmethod
    def load(cls, *, builtins: bool = True, entrypoints: bool | None = None,
             plugins_dir: str | Path | None = None, plugins: Iterable[object] = ()) -> Host:
        """A host with the bundled plugins, entry points (``None``: unless
        ``MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD``), a plugins folder (default
        ``MICRO_BENCH_PLUGINS_DIR``) and ``plugins`` (modules, classes or instances)."""
        host = cls()
        asked = {p.strip() for p in os.environ.get("MICRO_BENCH_DISABLED_PLUGINS", "").split(",") if p.strip()}
        renamed = {RENAMED_PLUGINS[old]: f"disabled as {old!r}, now part of it: name {RENAMED_PLUGINS[old]!r} in "
                                         "MICRO_BENCH_DISABLED_PLUGINS" for old in sorted(asked & set(RENAMED_PLUGINS))}
        asked = {RENAMED_PLUGINS.get(name, name) for name in asked}
        disabled = asked - set(ESSENTIAL_PLUGINS)
        for name in sorted(asked & set(ESSENTIAL_PLUGINS)):
            host.problems.append((name, f"plugin {name!r} is essential (micro-bench needs it to start) and "
                                        "cannot be disabled; MICRO_BENCH_DISABLED_PLUGINS ignores it"))
        for module_name in BUILTIN_PLUGINS if builtins else ():
            name = module_name.split(".")[0]
            dist = ("micro-bench", _version())
            if name in disabled:
                host._record(PluginInfo(name, module_name, status="disabled", error=renamed.get(name)))
                continue
            host._try(name, module_name, dist, "builtin", functools.partial(importlib.import_module, module_name),
                      "Reinstall micro-bench")
        if entrypoints if entrypoints is not None else not _truthy("MICRO_BENCH_DISABLE_PLUGIN_AUTOLOAD"):
            host._load_entrypoints(disabled)
        folder = plugins_dir or os.environ.get("MICRO_BENCH_PLUGINS_DIR") or None
        if folder:
            host._load_folder(Path(folder))
        for plugin in plugins:
            host.register(plugin)
        host.pm.check_pending()  # every implementation left registered has a spec
        return host

    @property
    def strict(self) -> bool:
        """Whether a plugin failure is fatal (``MICRO_BENCH_STRICT_PLUGINS`` unless set explicitly)."""
        return _truthy("MICRO_BENCH_STRICT_PLUGINS") if self._strict is None else self._strict

    # -- loading ---------------------------------------------------------------------------
    def _record(self, info: PluginInfo) -> None:
        self.infos.append(info)
        if info.status == "broken" and self.strict:
            raise PluginError(f"plugin {info.name!r} ({info.distribution or info.module}) failed to load: {info.error}")

    def _try(self, name: str, module: str, dist: tuple[str | None, str | None], source: str,
             load: Callable[[], object], fix: str) -> None:
        try:
            self._checked_register(load(), name)
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not brick the tool
            message = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            self._record(PluginInfo(name, module, dist[0], dist[1], "broken", f"{message}. {fix}", source))
            return
        self._record(PluginInfo(name, module, dist[0], dist[1], "ok", None, source))

    def _unknown_hooks(self, plugin: object) -> str | None:
        """Pluggy's ``check_pending`` for one plugin, as a message naming the plugin and hook."""
        for impl in self.pm.get_hookcallers(plugin) or ():
            if not impl.has_spec():
                known = [n for n in dir(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_")]
                close = difflib.get_close_matches(impl.name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                return f"plugin {self.pm.get_name(plugin)!r} implements unknown hook {impl.name!r}{hint}"
        return None

    def _load_entrypoints(self, disabled: set[str]) -> None:
        from importlib.metadata import entry_points

        seen: set[str] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen or self.pm.get_plugin(ep.name) is not None:
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            meta = (dist.metadata["Name"], dist.version) if dist is not None else (None, None)
            if ep.name in disabled:
                self._record(PluginInfo(ep.name, ep.value, meta[0], meta[1], "disabled", source="entrypoint"))
                continue
            self._try(ep.name, ep.value, meta, "entrypoint", ep.load,
                      f"Fix or upgrade {meta[0] or ep.value}, or skip it with MICRO_BENCH_DISABLED_PLUGINS={ep.name}")

    def _load_folder(self, directory: Path) -> None:
        if not directory.is_dir():
            raise PluginError(f"plugins directory {str(directory)!r} does not exist or is not a folder")
        for path in sorted(directory.glob("*.py")):
            self._try(path.stem, str(path), (None, None), "plugins_dir", functools.partial(_import_file, path), f"Fix {path}")

    # -- using -----------------------------------------------------------------------------
    @property
    def hook(self) -> Any:
        """The pluggy hook relay: ``host.hook.micro_bench_run_start(run=...)``."""
        return self.pm.hook

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object now; a hook without a spec is a :class:`PluginError`."""
        registered = self._checked_register(plugin, name)
        self.infos.append(PluginInfo(registered, getattr(plugin, "__name__", repr(plugin)), source="registered"))
        return registered

    def _checked_register(self, plugin: object, name: str | None) -> str:
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"plugin {name!r} is blocked")
        unknown = self._unknown_hooks(plugin)
        if unknown:
            self.pm.unregister(plugin)
            raise PluginError(unknown)
        root = _code_root(plugin)
        if root is not None:
            self._roots[registered] = root
        for caller in self.pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    guard(impl, caller.name)  # isolation and attribution in call_hook
        self._registries = None
        return registered

    def report_duplicate(self, what: str, name: str, first: str, later: str) -> None:
        """The one duplicate policy: ``first`` (registered earlier) keeps ``name``; ``later``'s
        entry is reported in :attr:`problems` (``micro-bench plugins``), or raised in strict mode."""
        message = (f"duplicate {what} {name!r}: provided by plugin {first!r} and by plugin {later!r}; "
                   f"{first!r} (registered first) keeps it. Rename one, or disable a plugin with "
                   "MICRO_BENCH_DISABLED_PLUGINS")
        if self.strict:
            raise PluginError(message)
        if (later, message) not in self.problems:
            self.problems.append((later, message))

    def third_party_roots(self) -> dict[str, Path]:
        """Plugin name -> its code's folder or file, for every loaded plugin micro-bench does not ship."""
        builtin = {i.name for i in self.infos if i.source == "builtin"}
        ours = Path(__file__).parent
        return {n: r for n, r in self._roots.items() if n not in builtin and not (r == ours or r.is_relative_to(ours))}

    def origin_of(self, plugin: str) -> str:
        """``distribution version`` of a loaded plugin, else its module or file."""
        info = next((i for i in reversed(self.infos) if i.name == plugin), None)
        if info is None:
            return str(self._roots.get(plugin, "?"))
        if info.distribution:
            return f"{info.distribution} {info.version or ''}".strip()
        return info.module

    def unregister(self, plugin: object | None = None, name: str | None = None) -> None:
        """Remove a plugin (by object or name); its components leave the registries."""
        plugin = plugin if plugin is not None else self.pm.get_plugin(name or "")
        name = self.pm.get_name(plugin)
        self.pm.unregister(plugin)
        self.infos = [i for i in self.infos if i.name != name or i.status != "ok"]
        self._registries = None

    @property
    def registries(self) -> dict[str, Registry]:
        """Per-kind registries built from the provider hooks (rebuilt after (un)registering)."""
        if self._registries is None:
            regs = {k.name: Registry(k.name, self.pm, strict=self.strict) for k in components.KIND_TABLE}
            for plugin in {p for reg in regs.values() for p in reg.disabled}:  # disabled in every kind
                for reg in regs.values():
                    reg.drop(plugin)
            self._registries = regs
        return self._registries

    def plugin_infos(self) -> list[PluginInfo]:
        """Every plugin tried, in load order, including broken and disabled ones."""
        return list(self.infos)


def _code_root(plugin: object) -> Path | None:
    """The folder of the top-level package a plugin object comes from, or its module's file."""
    import inspect
    import types

    module = plugin if isinstance(plugin, types.ModuleType) else inspect.getmodule(
        plugin if inspect.isclass(plugin) or inspect.isfunction(plugin) else type(plugin))
    file = getattr(module, "__file__", None)
    if module is None or not file:
        return None
    top = sys.modules.get((module.__name__ or "").partition(".")[0])
    top_file = getattr(top, "__file__", None)
    if top is not module and top_file and Path(top_file).name == "__init__.py":
        return Path(top_file).parent.resolve()
    return Path(file).resolve()


def _import_file(path: Path) -> object:
    module_name = f"micro_bench_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _version() -> str:
    from micro_bench._version import __version__

    return __version__
