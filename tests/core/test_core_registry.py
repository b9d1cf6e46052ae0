"""Registries: duplicates, unknown names, parameter binding, lazy factories, resolvers."""

from __future__ import annotations

import pytest

from micro_bench import ComponentSpec, hookimpl
from micro_bench.errors import ComponentError
from micro_bench.host import Host


def focal(gamma: float = 2.0, alpha: float | None = None):
    return ("focal", gamma, alpha)


class Losses:
    @hookimpl
    def micro_bench_losses(self):
        return [ComponentSpec("focal", focal, "Focal"), ComponentSpec("bce", "builtins:dict", "BCE")]


class MoreLosses:
    @hookimpl
    def micro_bench_losses(self):
        return [ComponentSpec("focal", focal, "Another focal")]


class Resolver:
    @hookimpl
    def micro_bench_resolve_component(self, kind, name):
        if kind == "model" and name.startswith("timm:"):
            return ComponentSpec(name, lambda num_classes=2, in_chans=4: (name[5:], num_classes))
        return None


def pm_with(*plugins):
    return Host.load(builtins=False, entrypoints=False, plugins=plugins)


def test_create_binds_and_calls():
    regs = pm_with(Losses()).registries
    assert regs["loss"].names() == ["bce", "focal"]
    assert regs["loss"].create("focal", gamma=0.5) == ("focal", 0.5, None)
    assert regs["loss"].plugin_of("focal").startswith("micro_bench") or regs["loss"].plugin_of("focal")


def test_duplicate_names_both_plugins(monkeypatch):
    pm = Host.load(builtins=False, entrypoints=False)
    pm.register(Losses(), name="plugin_a")
    pm.register(MoreLosses(), name="plugin_b")
    regs = pm.registries  # the later plugin is disabled, the earlier one wins
    assert regs["loss"].plugin_of("focal") == "plugin_a"
    (plugin, message), = regs["loss"].problems
    assert plugin == "plugin_b"
    assert message.startswith("duplicate loss 'focal': provided by plugin 'plugin_a' and by plugin 'plugin_b'; "
                              "'plugin_a' wins and plugin 'plugin_b' is disabled")
    monkeypatch.setenv("MICRO_BENCH_STRICT_PLUGINS", "1")
    pm.register(Losses(), name="plugin_c")  # a new plugin set: registries are rebuilt
    with pytest.raises(ComponentError, match="duplicate loss"):
        _ = pm.registries


def test_unknown_name_suggests():
    regs = pm_with(Losses()).registries
    with pytest.raises(ComponentError) as err:
        regs["loss"].create("focall")
    assert str(err.value) == "unknown loss 'focall'\nDid you mean: focal?  Available losses: bce, focal"


def test_unknown_parameter_suggests():
    regs = pm_with(Losses()).registries
    with pytest.raises(ComponentError) as err:
        regs["loss"].create("focal", gama=1.0)
    assert str(err.value) == "loss 'focal' got unknown parameter 'gama'. Did you mean: gamma? Parameters: gamma, alpha"


def test_lazy_factory_string_is_imported_on_create():
    regs = pm_with(Losses()).registries
    assert regs["loss"].create("bce", a=1) == {"a": 1}


def test_resolver_open_namespace():
    regs = pm_with(Resolver()).registries
    assert regs["model"].create("timm:convnext_tiny", num_classes=3) == ("convnext_tiny", 3)
    with pytest.raises(ComponentError, match="unknown model 'convnext'"):
        regs["model"].spec("convnext")


def test_wrong_return_type_is_a_problem_not_a_crash(monkeypatch):
    class Bad:
        @hookimpl
        def micro_bench_losses(self):
            return ["not a spec"]

    pm = Host.load(builtins=False, entrypoints=False)
    pm.register(Bad(), name="bad_plugin")
    pm.register(Losses(), name="good")
    regs = pm.registries
    assert regs["loss"].names() == ["bce", "focal"]
    assert regs["loss"].problems[0][0] == "bad_plugin"
    assert "must return ComponentSpec objects, got str" in regs["loss"].problems[0][1]
    from micro_bench.errors import PluginError
    from micro_bench.registry import Registry

    with pytest.raises(PluginError, match="bad_plugin"):
        Registry("loss", pm.pm, strict=True)


def test_registering_later_invalidates_cache():
    pm = pm_with()
    assert pm.registries["loss"].names() == []
    pm.register(Losses())
    assert pm.registries["loss"].names() == ["bce", "focal"]


def test_spec_validation():
    with pytest.raises(ValueError, match="must look like 'package.module:callable'"):
        ComponentSpec("x", "no_colon")
    with pytest.raises(TypeError, match="non-empty str"):
        ComponentSpec("", focal)


def test_unregistering_removes_components():
    pm = pm_with()
    plugin = Losses()
    pm.register(plugin, name="temp_losses")
    assert pm.registries["loss"].names() == ["bce", "focal"]
    pm.unregister(name="temp_losses")
    assert pm.registries["loss"].names() == []
