"""Logging for the command line: ``micro_bench*`` records to standard error, the command's own
output on standard output. Library calls configure nothing, so they print nothing unless the
caller sets up logging."""

from __future__ import annotations

import logging
import sys

__all__ = ["setup_logging"]

_HANDLER: list[logging.Handler] = []


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno == logging.INFO else f"{record.levelname.lower()}: {text}"


def setup_logging(level: int) -> None:
    """Log records of ``micro_bench*`` to standard error at ``level`` (the command's own output
    stays on standard output). Replaces the handler a previous call installed."""
    root = logging.getLogger("micro_bench")
    for handler in _HANDLER:
        root.removeHandler(handler)
    _HANDLER.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Format("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    _HANDLER.append(handler)
