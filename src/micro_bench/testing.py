"""An opt-in pytest plugin for plugin authors: isolated managers, temporary plugins, conformance.

Enable it with ``pytest -p micro_bench.testing`` or, in a ``conftest.py``::

    pytest_plugins = ["micro_bench.testing"]

Then::

    from micro_bench.testing import assert_conforms, registered

    def test_my_loss_conforms(mb_plugin_manager):
        with registered(my_plugin_module):
            assert_conforms("loss", "my_loss", gamma=2.0)

The fixture and helpers are plain functions too, usable without pytest's plugin machinery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from micro_bench.conformance import CheckResult, check_component

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pluggy

    from micro_bench.registry import Registry

__all__ = ["assert_conforms", "isolated_plugin_manager", "mb_plugin_manager", "mb_registries", "registered"]

#: Environment variables that would leak the developer's setup into an isolated manager.
_ISOLATION_ENV = ("MICRO_BENCH_PLUGINS_DIR", "MICRO_BENCH_DISABLED_PLUGINS", "MICRO_BENCH_STRICT_PLUGINS")


@contextmanager
def isolated_plugin_manager(*, builtins: bool = True, plugins: tuple[object, ...] = ()) -> Iterator[pluggy.PluginManager]:
    """A new manager (bundled plugins, no entry points, no plugins folder) installed as the
    process-wide one inside the ``with`` block; the previous one is put back afterwards."""
    from micro_bench.plugin_manager import make_plugin_manager, set_plugin_manager

    pm = make_plugin_manager(builtins=builtins, entrypoints=False, plugins=plugins)
    previous = set_plugin_manager(pm)
    try:
        yield pm
    finally:
        set_plugin_manager(previous)


@pytest.fixture
def mb_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[pluggy.PluginManager]:
    """An isolated plugin manager with the bundled plugins only (no entry points, no
    ``MICRO_BENCH_PLUGINS_DIR``), installed as the process-wide manager for this test."""
    for name in _ISOLATION_ENV:
        monkeypatch.delenv(name, raising=False)
    with isolated_plugin_manager() as pm:
        yield pm


@pytest.fixture
def mb_registries(mb_plugin_manager: pluggy.PluginManager) -> dict[str, Registry]:
    """``micro_bench.registries()`` of :func:`mb_plugin_manager`, keyed by kind."""
    from micro_bench import registries

    return registries(mb_plugin_manager)


@contextmanager
def registered(plugin: object, pm: pluggy.PluginManager | None = None, *, name: str | None = None) -> Iterator[str]:
    """Register ``plugin`` (a module, class or instance with ``@hookimpl`` functions) in ``pm``
    (default: the process-wide manager) for the ``with`` block; yields its plugin name."""
    from micro_bench.plugin_manager import get_plugin_manager

    pm = pm if pm is not None else get_plugin_manager()
    plugin_name = pm.register(plugin, name=name)
    if plugin_name is None:
        raise ValueError(f"plugin {name or plugin!r} is blocked in this plugin manager")
    try:
        yield plugin_name
    finally:
        pm.unregister(plugin)


def assert_conforms(kind: str, name: str, pm: pluggy.PluginManager | None = None, **params: Any) -> CheckResult:
    """Fail the test unless component ``name`` of ``kind`` meets its contract.

    ``params`` build the component (merged over the spec's ``extra["conformance_params"]``);
    returns the passing :class:`~micro_bench.conformance.CheckResult`.
    """
    __tracebackhide__ = True
    from micro_bench import registries

    result = check_component(kind, name, registries(pm)[kind], **params)
    if not result.ok:
        pytest.fail(str(result), pytrace=False)
    return result
