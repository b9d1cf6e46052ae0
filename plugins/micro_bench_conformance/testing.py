"""An opt-in pytest plugin for plugin authors: isolated managers, temporary plugins, conformance.

Enable it with ``pytest -p micro_bench_conformance.testing`` or, in a ``conftest.py``::

    pytest_plugins = ["micro_bench_conformance.testing"]

Then::

    from micro_bench_conformance.testing import assert_conforms, registered

    def test_my_loss_conforms(mb_host):
        with registered(my_plugin_module, mb_host):
            assert_conforms("loss", "my_loss", mb_host, gamma=2.0)

The fixture and helpers are plain functions too, usable without pytest's plugin machinery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from micro_bench_conformance import CheckResult, check_component

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host
    from micro_bench.registry import Registry

__all__ = ["assert_conforms", "mb_host", "mb_registries", "registered"]

#: Environment variables that would leak the developer's setup into an isolated manager.
_ISOLATION_ENV = ("MICRO_BENCH_PLUGINS_DIR", "MICRO_BENCH_DISABLED_PLUGINS", "MICRO_BENCH_STRICT_PLUGINS")


@pytest.fixture
def mb_host(monkeypatch: pytest.MonkeyPatch) -> Host:
    """A fresh :class:`~micro_bench.host.Host` with the bundled plugins only (no entry points,
    no ``MICRO_BENCH_PLUGINS_DIR``)."""
    from micro_bench.host import Host

    for name in _ISOLATION_ENV:
        monkeypatch.delenv(name, raising=False)
    return Host.load(entrypoints=False, plugins_dir=None)


@pytest.fixture
def mb_registries(mb_host: Host) -> dict[str, Registry]:
    """The registries of :func:`mb_host`, keyed by kind."""
    return mb_host.registries


@contextmanager
def registered(plugin: object, host: Host, *, name: str | None = None) -> Iterator[str]:
    """Register ``plugin`` (a module, class or instance with ``@hookimpl`` functions) in ``host``
    for the ``with`` block; yields its plugin name. A hook without a spec is an error."""
    plugin_name = host.register(plugin, name=name)
    try:
        yield plugin_name
    finally:
        host.unregister(plugin)


def assert_conforms(kind: str, name: str, host: Host, **params: Any) -> CheckResult:
    """Fail the test unless component ``name`` of ``kind`` in ``host`` meets its contract.

    ``params`` build the component (merged over the spec's ``extra["conformance_params"]``);
    returns the passing :class:`~micro_bench_conformance.CheckResult`.
    """
    __tracebackhide__ = True
    result = check_component(kind, name, host.registries[kind], **params)
    if not result.ok:
        pytest.fail(str(result), pytrace=False)
    return result
