"""The one way micro-bench calls hooks: pluggy's own calling, isolated and attributed per plugin.

:func:`call_hook` calls a hook through pluggy, so its order (last registered first,
``tryfirst``/``trylast`` honoured), ``firstresult`` and wrappers (``hookwrapper=True`` and
``wrapper=True``, a third party's included) are pluggy's. Every plain implementation is wrapped once,
when its plugin registers (:func:`guard`, called by the host), so that within a :func:`call_hook`
call with a ``report`` function an implementation that raises is reported in one line naming its
plugin and skipped, while the others still run; and each result is returned with the plugin that
gave it. Outside :func:`call_hook` (a plugin calling ``host.hook.x()`` itself) the guard changes
nothing.

One duplicate policy (:func:`first_registered`): where plugins provide the same name (components,
benchmarks, executors), the plugin registered first keeps it and the later one's entry is reported
(an error in strict mode).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from micro_bench.errors import MicroBenchError

__all__ = ["HookFailure", "call_hook", "first_registered", "guard"]


class HookFailure(str):
    """The one line :func:`call_hook` reports for a failed implementation; ``plugin`` names it."""

    plugin: str

    def __new__(cls, text: str, plugin: str) -> HookFailure:
        line = super().__new__(cls, text)
        line.plugin = plugin
        return line


@dataclass
class _Call:
    report: Callable[[str], Any] | None
    user_errors: bool
    made: list[tuple[str, Any]] = field(default_factory=list)


_ACTIVE: ContextVar[_Call | None] = ContextVar("micro_bench_hook_call", default=None)


def guard(impl: Any, hook_name: str) -> None:
    """Wrap the plain hook implementation ``impl`` (a pluggy ``HookImpl``) for :func:`call_hook`."""
    if impl.hookwrapper or impl.wrapper or getattr(impl.function, "__micro_bench_guarded__", False):
        return
    function, plugin = impl.function, impl.plugin_name

    @functools.wraps(function)
    def guarded(*args: Any) -> Any:
        call = _ACTIVE.get()
        token = _ACTIVE.set(None)  # a hook called from inside this one is its own call
        try:
            value = function(*args)
        except Exception as exc:  # noqa: BLE001 - isolate the plugin when the caller asked to
            if call is None or call.report is None or (call.user_errors and isinstance(exc, MicroBenchError)):
                raise
            call.report(HookFailure(f"plugin {plugin!r}: {hook_name}() raised {type(exc).__name__}: {exc}; ignored",
                                    plugin))
            return None
        finally:
            _ACTIVE.reset(token)
        if call is not None and value is not None:
            call.made.append((plugin, value))
        return value

    guarded.__micro_bench_guarded__ = True  # type: ignore[attr-defined]
    impl.function = guarded


def call_hook(pm: Any, name: str, report: Callable[[str], Any] | None = None, /, *, user_errors: bool = False,
              **kwargs: Any) -> list[tuple[str, Any]]:
    """Call hook ``name`` of the pluggy manager ``pm`` with ``kwargs``; return ``(plugin, result)``
    for each non-None result, in pluggy's order (a ``firstresult`` hook: at most one).

    With ``report``, an implementation that raises is reported through it (one line naming the
    plugin) and skipped, and a wrapper that raises loses the call's results (reported too); with
    ``user_errors``, a :class:`MicroBenchError` (a plugin rejecting the user's input on purpose)
    propagates instead. Without ``report`` exceptions propagate.
    """
    hook = getattr(pm.hook, name)
    call = _Call(report, user_errors)
    token = _ACTIVE.set(call)
    try:
        result = hook(**kwargs)
    except Exception as exc:  # noqa: BLE001 - a wrapper failed: isolate when asked to
        if report is None or (user_errors and isinstance(exc, MicroBenchError)):
            raise
        report(HookFailure(f"{name}(): a hook wrapper raised {type(exc).__name__}: {exc}; this call's results "
                           "are ignored", "<wrapper>"))
        return []
    finally:
        _ACTIVE.reset(token)
    firstresult = bool(hook.spec is not None and hook.spec.opts.get("firstresult"))
    values = [result] if firstresult else list(result or [])
    owners = {id(value): plugin for plugin, value in call.made}
    return [(owners.get(id(value), "<wrapper>"), value) for value in values if value is not None]


def first_registered(pm: Any, entries: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``(plugin, value)`` pairs sorted by the plugin's registration order (the duplicate policy:
    the first registered keeps a name); entries of unknown plugins (wrappers) last."""
    rank = {name: i for i, (name, _) in enumerate(pm.list_name_plugin())}
    return sorted(entries, key=lambda e: rank.get(e[0], len(rank)))
