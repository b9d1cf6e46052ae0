"""Conformance checks: does a registered component meet the contract of its kind?

Each check builds the component through its registry (so parameter binding is exercised too),
feeds it small seeded random inputs and checks what comes back against the ``Protocol`` of its
kind in :mod:`micro_bench.components`. ``micro-bench check-plugin NAME`` (added by this bundled
plugin) prints one line per :class:`CheckResult`; :mod:`micro_bench_conformance.testing` turns a failed check into a test failure.

Spec metadata a plugin can set in ``ComponentSpec.extra``:

* ``conformance_params``: keyword parameters used to build the component for the check (a small
  dataset: ``{"n": 40, "resolution": 32}``; a model without downloads: ``{"pretrained": False}``),
  or ``"module:function"`` naming a function that returns them (called when the check runs: a
  dataset that needs a store on disk builds a tiny one, e.g. the ``images`` dataset's).
* ``conformance_skip``: a reason string; the component is reported as skipped, not checked
  (for example a dataset that needs a converted store on disk).
* ``range``: ``[low, high]`` of a metric's values when it is not ``[0, 1]`` (``null`` = unbounded).

torch and numpy are imported inside the checks, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from micro_bench import components
from micro_bench.errors import PluginError
from micro_bench_conformance.checks import (
    CHECKS,
    IN_CHANS,
    NUM_CLASSES,
    SEED,
    Violation,
    check_metric,
    check_protocol,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host
    from micro_bench.registry import Registry

__all__ = ["NUM_CLASSES", "CheckResult", "check_all", "check_component", "check_plugin", "summarize"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one component (``plugin`` is the plugin that registered it)."""

    kind: str
    name: str
    plugin: str
    ok: bool
    message: str
    skipped: bool = False

    @property
    def status(self) -> str:
        """``"PASS"``, ``"FAIL"`` or ``"SKIP"``."""
        return "SKIP" if self.skipped else ("PASS" if self.ok else "FAIL")

    def __str__(self) -> str:
        return f"{self.status} {self.kind} {self.name} [{self.plugin}]: {self.message}"


def check_component(kind: str, name: str, registry: Registry, **params: Any) -> CheckResult:
    """Build ``name`` from ``registry`` and check it against the contract of ``kind``.

    ``params`` override the spec's ``extra["conformance_params"]``; models always get
    ``num_classes=5`` and ``in_chans=4``. ``kind`` is looked up in
    :data:`~micro_bench.components.KIND_TABLE` when called, so a kind added to the table later is
    checked too: against its Protocol's members (:func:`~micro_bench_conformance.checks.check_protocol`)
    when no check of its own exists. Never raises for a misbehaving component: the failure is the
    returned result's ``message``.
    """
    try:
        entry = components.kind(kind)
    except KeyError:
        names = ", ".join(k.name for k in components.KIND_TABLE)
        raise ValueError(f"unknown component kind {kind!r}; expected one of {names}") from None
    try:
        plugin, spec = registry.plugin_of(name), registry.spec(name)
    except Exception as exc:  # an unknown name: the registry's message lists what exists
        return CheckResult(kind, name, "?", False, str(exc))
    extra = dict(spec.extra or {})
    if extra.get("conformance_skip") and not params:
        return CheckResult(kind, name, plugin, True, f"skipped: {extra['conformance_skip']}", skipped=True)
    stage = "could not be created"
    try:
        build = {**_params(extra.get("conformance_params", {})), **params}
        if kind == "model":
            build.update(num_classes=NUM_CLASSES, in_chans=IN_CHANS)
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            component = registry.create(name, **build)
            stage = "failed its check"
            if kind == "metric":
                low, high = extra.get("range", (0.0, 1.0))
                return CheckResult(kind, name, plugin, True, check_metric(component, (low, high)))
            check = CHECKS.get(kind)
            message = check(component) if check is not None else check_protocol(component, entry.protocol)
            return CheckResult(kind, name, plugin, True, message)
    except Violation as exc:
        return CheckResult(kind, name, plugin, False, str(exc))
    except Exception as exc:  # the component itself crashed: report, never propagate
        return CheckResult(kind, name, plugin, False, f"{stage}: {type(exc).__name__}: {exc}")


def _params(given: Any) -> dict[str, Any]:
    """``conformance_params``: a mapping, or ``"module:function"`` returning one."""
    if isinstance(given, str):
        import importlib

        module, _, attr = given.partition(":")
        given = getattr(importlib.import_module(module), attr)()
    return dict(given)


def _aliases(host: Host, plugin_name: str) -> set[str]:
    """Plugin names ``plugin_name`` may refer to: itself, or a distribution/module providing it."""
    names = {plugin_name}
    for info in host.plugin_infos():
        if plugin_name in (info.distribution, info.module):
            names.add(info.name)
        if info.name in names and info.status == "broken":
            raise PluginError(f"plugin {info.name!r} ({info.distribution or info.module}) is broken: {info.error}")
    return names


def _run(host: Host, keep: Callable[[str], bool]) -> list[CheckResult]:
    results = []
    for kind, registry in host.registries.items():
        for name in registry.names():
            if keep(registry.plugin_of(name)):
                results.append(check_component(kind, name, registry))
    return results


def check_plugin(host: Host, plugin_name: str) -> list[CheckResult]:
    """Check every component that plugin ``plugin_name`` registered in ``pm`` (one result each).

    ``plugin_name`` is the plugin's name (an entry point's name, e.g. ``asl``) or its
    distribution or module name. Raises :class:`PluginError` when no such plugin is loaded or it
    failed to load. A plugin that only adds commands or lifecycle hooks yields ``[]``.
    """
    try:
        names = _aliases(host, plugin_name)
    except PluginError as exc:
        return [CheckResult("plugin", plugin_name, plugin_name, False, str(exc))]
    loaded = {n for n, _ in host.pm.list_name_plugin()}
    if not names & loaded:
        raise PluginError(f"no plugin named {plugin_name!r} is loaded; loaded plugins: {', '.join(sorted(loaded))}")
    return _run(host, lambda owner: owner in names)


def check_all(host: Host) -> list[CheckResult]:
    """Check every registered component of every kind (what the project's own tests run)."""
    return _run(host, lambda owner: True)


def summarize(results: Iterable[CheckResult]) -> str:
    """``"12 passed, 1 failed, 2 skipped"``."""
    results = list(results)
    counts = [sum(r.status == s for r in results) for s in ("PASS", "FAIL", "SKIP")]
    return f"{counts[0]} passed, {counts[1]} failed, {counts[2]} skipped"
