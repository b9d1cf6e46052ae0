"""Exceptions a user may see. Their text is the one-line message the CLI prints."""

from __future__ import annotations

__all__ = ["ComponentError", "ConfigError", "MicroBenchError", "ParameterError", "PluginError"]


class MicroBenchError(Exception):
    """Base class: the CLI prints ``str(error)`` on one line and exits non-zero."""


class ConfigError(MicroBenchError, ValueError):
    """A benchmark file or override is wrong; the message names the file and key path."""


class ComponentError(MicroBenchError, LookupError):
    """An unknown component name, a duplicate, or parameters that do not fit the factory."""


class PluginError(MicroBenchError, RuntimeError):
    """A plugin failed to load or broke its contract."""


class ParameterError(MicroBenchError, ValueError):
    """A component parameter has the right type but a value the factory refuses (a range, an
    allowed value, an unavailable device). Factories raise it; the runner and ``validate`` add
    the file and key path."""
