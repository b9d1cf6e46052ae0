"""Conformance reads the kinds from :data:`micro_bench.components.KIND_TABLE` when it checks, not
a copy taken at import: a kind added to the table later (here a toy ``stain`` kind, added the way
tests/core/test_kinds.py adds one) is checked by ``micro-bench check-plugin`` against its Protocol's
members when it has no check of its own."""

from __future__ import annotations

from typing import Protocol

import pluggy
import pytest
from click.testing import CliRunner

from micro_bench import ComponentSpec, components, hookimpl
from micro_bench.host import Host
from micro_bench_commands.cli import cli
from micro_bench_conformance import check_component
from micro_bench_conformance.checks import CHECKS

spec = pluggy.HookspecMarker("micro_bench")


class StainSpecs:
    @spec
    def micro_bench_stains(self):
        """Provide stains (a toy kind)."""


class Stain(Protocol):
    channel: str

    def colour(self, intensity: float, *, gamma: float) -> str: ...


class Good:
    channel = "dapi"

    def colour(self, intensity, *, gamma=1.0):
        return "blue"


class Rigid(Good):
    def colour(self, intensity):  # type: ignore[override] - no gamma keyword: breaks the contract
        return "blue"


class Unnamed:
    def colour(self, intensity, *, gamma=1.0):
        return "blue"


class Stains:
    @hookimpl
    def micro_bench_stains(self):
        return [ComponentSpec("good", Good), ComponentSpec("rigid", Rigid), ComponentSpec("unnamed", Unnamed)]


@pytest.fixture
def host(monkeypatch) -> Host:
    import micro_bench_commands.plugin
    import micro_bench_conformance.plugin

    monkeypatch.setattr(components, "KIND_TABLE", (
        *components.KIND_TABLE, components.Kind("stain", "micro_bench_stains", "stains", None, True, Stain)))
    host = Host.load(builtins=False, entrypoints=False,
                     plugins=[micro_bench_commands.plugin, micro_bench_conformance.plugin])
    host.pm.add_hookspecs(StainSpecs)
    host.register(Stains(), name="stains")
    return host


def test_check_plugin_checks_a_kind_added_to_the_table_after_import(host):
    assert "stain" not in components.KINDS and "stain" not in CHECKS  # the import-time snapshot lacks it
    done = CliRunner().invoke(cli, ["check-plugin", "stains"], obj=host)
    assert done.exit_code == 1, done.output
    lines = [" ".join(line.split()) for line in done.output.splitlines()]
    assert lines == [
        "PASS stain good Stain: channel, colour(intensity, gamma)",
        "FAIL stain rigid colour() cannot be called as colour(intensity, gamma=...) (see the Stain contract)",
        "FAIL stain unnamed has no channel (see the Stain contract)",
        "1 passed, 2 failed",
    ]


def test_an_unknown_kind_names_the_kinds_of_the_table_now(host):
    registry = host.registries["stain"]
    with pytest.raises(ValueError, match=r"^unknown component kind 'stains'; expected one of dataset, .*, logger, stain$"):
        check_component("stains", "good", registry)
    assert check_component("stain", "good", registry).ok
