"""Call a lifecycle hook one plugin at a time, so one plugin's exception cannot take down a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from micro_bench.errors import MicroBenchError

__all__ = ["call_isolated"]


def call_isolated(hook: Any, report: Callable[[str], Any], *, user_errors: bool = False,
                  **kwargs: Any) -> list[Any]:
    """Call every implementation of ``hook`` (pluggy's order) with ``kwargs``; an implementation
    that raises is reported through ``report`` (one line naming the plugin) and skipped.

    With ``user_errors``, a :class:`MicroBenchError` (a plugin rejecting the user's input on
    purpose, e.g. in ``micro_bench_configure``) propagates instead. Returns the non-None results.
    """
    results = []
    for impl in reversed(hook.get_hookimpls()):
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue  # wrappers need pluggy's generator protocol; none of ours use them
        try:
            value = impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception as exc:  # noqa: BLE001 - isolate the plugin, keep the run going
            if user_errors and isinstance(exc, MicroBenchError):
                raise
            report(f"plugin {impl.plugin_name!r}: {hook.name}() raised {type(exc).__name__}: {exc}; ignored")
            continue
        if value is not None:
            results.append(value)
    return results
