"""One table of kinds: a component kind with a config key is one ``KIND_TABLE`` entry plus its hook
spec, and flows from YAML through ``validate``, ``RunConfig.components``, the run key and
``prepare`` to a trainer (``context.components``); an optional kind's default comes from the
plugin that declares it (``ComponentSpec(default=True)``), never from the core."""

from __future__ import annotations

import copy
import json
import pickle

import pluggy
import pytest
from click.testing import CliRunner

import toy_plugin
from micro_bench import ComponentSpec, components, hookimpl
from micro_bench.build import prepare, run_key
from micro_bench.config import Component, load_config
from micro_bench.errors import ConfigError, ParameterError, PluginError
from micro_bench.runner import run_benchmark
from micro_bench.validate import validate_config
from micro_bench_commands.cli import cli
from toy_plugin import TOY_BENCH

spec = pluggy.HookspecMarker("micro_bench")


class PaletteSpecs:
    @spec
    def micro_bench_palettes(self):
        """Provide palettes (config key ``palette``; a toy kind)."""


class Palette:
    def __init__(self, warmth: float = 0.5) -> None:
        if not 0 <= warmth <= 1:
            raise ParameterError(f"warmth must be in [0, 1], got {warmth}")
        self.warmth = warmth


class PaletteTrainer(toy_plugin.ToyTrainer):
    """Reads the toy kind's built component from the run context (``fit`` has no keyword for it)."""

    def fit(self, model, dataset, split, *, loss, schedule, transform, context):
        history = super().fit(model, dataset, split, loss=loss, schedule=schedule, transform=transform, context=context)
        palette = context.components["palette"]
        return {**history, "warmth": None if palette is None else palette.warmth}


class Palettes:
    def __init__(self, default: str | None = "plain") -> None:
        self.default = default

    @hookimpl
    def micro_bench_palettes(self):
        return [ComponentSpec(n, Palette, default=n == self.default) for n in ("warm", "plain")]

    @hookimpl
    def micro_bench_trainers(self):
        return [ComponentSpec("palette_trainer", PaletteTrainer)]


class OtherPalettes:
    @hookimpl
    def micro_bench_palettes(self):
        return [ComponentSpec("grey", Palette, default=True)]


@pytest.fixture
def palette_host(monkeypatch, toy_pm):
    """The toy host with the palette kind: ONE table entry and its hook spec, the rest plugins."""
    monkeypatch.setattr(components, "KIND_TABLE", (
        *components.KIND_TABLE, components.Kind("palette", "micro_bench_palettes", "palettes", "palette", True, Palette)))
    toy_pm.pm.add_hookspecs(PaletteSpecs)
    toy_pm.register(Palettes(), name="palettes")
    return toy_pm


def _bench(tmp_path, palette: str | None) -> object:
    text = TOY_BENCH.replace("trainer: {name: toy_trainer, epochs: 2}", "trainer: palette_trainer").replace(
        "reference: ref.csv\n", "")
    if palette is not None:
        text = text.replace("transform: null\n", f"transform: null\npalette: {palette}\n")
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    return path


def test_a_kind_with_a_config_key_flows_from_yaml_to_the_trainer(palette_host, tmp_path):
    path = _bench(tmp_path, "{name: warm, warmth: 0.75}")
    config = load_config(path, host=palette_host)
    validate_config(config, palette_host)
    run = config.runs[0]
    assert run.components["palette"] == run.palette == Component("warm", {"warmth": 0.75})
    assert list(run.to_dict())[:11] == ["benchmark", "label", "seed", "dataset", "model", "trainer", "loss",
                                       "scheduler", "transform", "tta", "sampler"]
    assert run.to_dict()["palette"] == {"name": "warm", "warmth": 0.75}
    assert pickle.loads(pickle.dumps(run)) == copy.deepcopy(run) == run  # executors ship runs to workers
    assert run.with_components(palette=None).palette is None and run.palette is not None
    with pytest.raises(AttributeError, match="'RunConfig' object has no attribute 'pallete'"):
        run.pallete  # noqa: B018 - a typo is not a component
    cooler = load_config(path, host=palette_host, overrides=["palette.warmth=0.25"]).runs[0]
    assert cooler.palette.params == {"warmth": 0.25} and run_key(cooler, "fp") != run_key(run, "fp")
    listed = CliRunner().invoke(cli, ["list", "palettes"], obj=palette_host).output
    assert [line.split()[0] for line in listed.splitlines()] == ["plain", "warm"] and "(default)" in listed
    built = prepare(run, palette_host)
    assert isinstance(built.palette, Palette) and built.components["palette"].warmth == 0.75
    results = run_benchmark(config, tmp_path / "runs", host=palette_host, echo=None)
    assert [r.history["warmth"] for r in results] == [0.75, 0.75]
    recorded = json.loads((tmp_path / "runs" / "toybench" / results[0].key / "config.json").read_text())
    assert recorded["run"]["palette"] == {"name": "warm", "warmth": 0.75}


def test_validate_checks_the_new_kind_like_any_other(palette_host, tmp_path):
    config = load_config(_bench(tmp_path, "{name: warm, warmth: 2.0}"), host=palette_host)
    with pytest.raises(ConfigError, match=r"bench.yaml: palette: warmth must be in \[0, 1\], got 2.0"):
        validate_config(config, palette_host)
    with pytest.raises(ConfigError, match=r"unknown palette 'wram' \(.*bench.yaml: palette\)\nDid you mean: warm\?  Available palettes: plain, warm"):
        validate_config(load_config(_bench(tmp_path, "wram"), host=palette_host), palette_host)
    with pytest.raises(ConfigError, match="--set 'palete=warm': unknown key 'palete'; settable: .*, palette, repeats"):
        load_config(_bench(tmp_path, "warm"), host=palette_host, overrides=["palete=warm"])
    path = _bench(tmp_path, "warm")
    path.write_text(path.read_text().replace("palette: warm", "palete: warm"))
    with pytest.raises(ConfigError, match="bench.yaml: palete: unknown key; did you mean 'palette'"):
        load_config(path, host=palette_host)


def test_the_default_is_the_plugins_and_null_turns_it_off(palette_host, tmp_path):
    run = load_config(_bench(tmp_path, None), host=palette_host).runs[0]
    assert run.palette == Component("plain")  # declared default=True by the palettes plugin
    assert run_benchmark(load_config(_bench(tmp_path, None), host=palette_host), tmp_path / "runs",
                         host=palette_host, echo=None)[0].history["warmth"] == 0.5
    off = load_config(_bench(tmp_path, "null"), host=palette_host).runs[0]
    assert off.palette is None and off.to_dict()["palette"] is None
    assert run_benchmark(load_config(_bench(tmp_path, "null"), host=palette_host), tmp_path / "runs",
                         host=palette_host, echo=None)[0].history["warmth"] is None


def test_two_plugins_declaring_a_default_are_refused_naming_both(palette_host, tmp_path):
    palette_host.register(OtherPalettes(), name="greys")
    with pytest.raises(PluginError, match="two default palettes: 'warm|plain|grey'") as err:
        load_config(_bench(tmp_path, None), host=palette_host)
    assert "'palettes'" in str(err.value) and "'greys'" in str(err.value) and "\n" not in str(err.value)
    assert load_config(_bench(tmp_path, "warm"), host=palette_host).runs[0].palette.name == "warm"  # set: no default needed


def test_the_transform_default_comes_from_the_transforms_plugin(tmp_path):
    from micro_bench.host import Host

    path = _bench(tmp_path, None)
    path.write_text(path.read_text().replace("transform: null\n", ""))
    host = Host.load(entrypoints=False)
    assert host.registries["transform"].default() == "fastai"
    assert load_config(path, host=host).runs[0].transform == Component("fastai")
    without = Host.load(builtins=False, entrypoints=False, plugins=[toy_plugin])  # no transforms plugin: none
    assert load_config(path, host=without).runs[0].transform is None
    listed = CliRunner().invoke(cli, ["list", "transforms"], obj=host).output  # `list` marks it
    assert [line.split()[0] for line in listed.splitlines() if line.endswith("(default)")] == ["fastai"]


def test_a_required_kind_takes_no_default(toy_pm):
    class Greedy:
        @hookimpl
        def micro_bench_trainers(self):
            return [ComponentSpec("always", toy_plugin.ToyTrainer, default=True)]

    toy_pm.register(Greedy(), name="greedy")
    with pytest.raises(PluginError, match="plugin 'greedy': trainer 'always' declares default=True, but a run must"):
        toy_pm.registries["trainer"].default()
