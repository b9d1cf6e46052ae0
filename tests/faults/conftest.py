"""Helpers shared by the fault suite: run the CLI in-process and assert the error contract."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


def invoke(*args: str, env: dict[str, str] | None = None):
    """Run ``micro-bench ARGS`` in-process; return the click Result (stderr kept apart)."""
    from micro_bench_commands.cli import cli

    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)


def assert_user_error(result, *needles: str) -> None:
    """The CLI contract for bad input: exit 1, one ``Error:`` line naming what was wrong, no
    traceback, no uncaught exception."""
    text = result.output  # stdout and stderr, interleaved (click >= 8.2)
    assert result.exit_code == 1, (result.exit_code, text, result.exception)
    assert "Traceback" not in text and "internal error" not in text, text
    assert isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, text
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


@pytest.fixture
def cli_invoke():
    return invoke
