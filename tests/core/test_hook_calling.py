"""One way to call hooks (micro_bench.hookcall.call_hook): pluggy's own calling, so a third-party
wrapper around a lifecycle hook runs and tryfirst/trylast are honoured, while a failing plain
implementation is isolated and named; one duplicate policy (the first registered plugin keeps a name)."""

from __future__ import annotations

import pytest

import micro_bench as mb
import micro_bench_local.plugin
import toy_plugin
from micro_bench import hookimpl
from micro_bench.config import load_config
from micro_bench.hookcall import call_hook
from micro_bench.host import Host


class ThirdParty:
    """A logger plugin as a third party would write it: wrappers of both pluggy styles, an ordered
    implementation and one that fails."""

    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl(hookwrapper=True)
    def micro_bench_run_end(self, run, result):
        self.events.append(f"old-style wrapper before {result.label}")
        outcome = yield
        self.events.append(f"old-style wrapper after ({len(outcome.get_result())} results)")


class Ordered:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    @hookimpl(wrapper=True)
    def micro_bench_run_end(self, run, result):
        self.events.append("new-style wrapper before")
        value = yield
        self.events.append("new-style wrapper after")
        return value

    @hookimpl(tryfirst=True)
    def micro_bench_run_start(self, run):
        self.events.append("tryfirst run_start")


class Failing:
    @hookimpl
    def micro_bench_run_end(self, run, result):
        raise RuntimeError("the logger's server is down")


class Late:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    @hookimpl(trylast=True)
    def micro_bench_run_start(self, run):
        self.events.append("trylast run_start")

    @hookimpl
    def micro_bench_run_end(self, run, result):
        self.events.append("plain run_end")
        return "logged"


def test_a_third_party_hookwrapper_runs_around_run_end_and_a_failing_plugin_is_isolated(tmp_path):
    third = ThirdParty()
    host = Host.load(builtins=False, entrypoints=False,
                     plugins=[toy_plugin, micro_bench_local.plugin, Late(third.events), third, Ordered(third.events),
                              Failing()])
    (tmp_path / "bench.yaml").write_text(toy_plugin.TOY_BENCH.replace("reference: ref.csv\n", "")
                                         .replace("  - {label: noisy, model: {noise: 0.5}}\n", ""))
    (result,) = mb.run(load_config(tmp_path / "bench.yaml"), tmp_path / "runs", host=host, echo=None,
                       progress=False)
    assert third.events == ["tryfirst run_start", "trylast run_start",
                            "new-style wrapper before", "old-style wrapper before quiet", "plain run_end",
                            "old-style wrapper after (1 results)", "new-style wrapper after"]
    log = (tmp_path / "runs" / "toybench" / result.key / "log.txt").read_text()
    failing = host.pm.get_name(next(p for p in host.pm.get_plugins() if isinstance(p, Failing)))
    assert f"plugin {failing!r}: micro_bench_run_end() raised RuntimeError: the logger's server is down; ignored" in log


def test_results_are_attributed_and_outside_call_hook_exceptions_propagate():
    events: list[str] = []
    host = Host.load(builtins=False, entrypoints=False, plugins=[Late(events), Failing()])
    late = host.pm.get_name(next(p for p in host.pm.get_plugins() if isinstance(p, Late)))
    reported: list[str] = []
    got = call_hook(host.pm, "micro_bench_run_end", reported.append, run=None, result=None)
    assert got == [(late, "logged")] and len(reported) == 1 and reported[0].plugin != late
    with pytest.raises(RuntimeError, match="server is down"):  # a plugin calling the relay itself
        host.hook.micro_bench_run_end(run=None, result=None)


def test_a_new_component_kind_is_one_table_entry_plus_its_hook_spec(monkeypatch):
    """A toy kind: one KIND_TABLE entry and its provider hook's spec give a registry with lookup,
    did-you-mean messages in the kind's plural, duplicate handling and plugin attribution."""
    import pluggy

    from micro_bench import ComponentSpec, components
    from micro_bench.errors import ComponentError

    spec = pluggy.HookspecMarker("micro_bench")

    class ToySpecs:
        @spec
        def micro_bench_colormaps(self):
            """Colormaps (a toy kind)."""

    toy = components.Kind("colormap", "micro_bench_colormaps", "colormaps", None, True, "Colormap")
    monkeypatch.setattr(components, "KIND_TABLE", (*components.KIND_TABLE, toy))

    class Maps:
        @hookimpl
        def micro_bench_colormaps(self):
            return [ComponentSpec("viridis", lambda: "viridis"), ComponentSpec("magma", lambda: "magma")]

    host = Host.load(builtins=False, entrypoints=False)
    host.pm.add_hookspecs(ToySpecs)
    name = host.register(Maps())
    registry = host.registries["colormap"]
    assert registry.names() == ["magma", "viridis"] and registry.plugin_of("magma") == name
    assert registry.create("viridis") == "viridis"
    with pytest.raises(ComponentError, match="unknown colormap 'viridi'\nDid you mean: viridis\\?  Available colormaps"):
        registry.spec("viridi")
