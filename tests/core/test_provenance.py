"""Provenance: the distributions behind a run's components go into its key and its
``environment.json``; upgrading one of them recomputes the run instead of reusing it."""

from __future__ import annotations

import json
import platform
from importlib import metadata

import pytest

import micro_bench_environment.plugin
import micro_bench_local.plugin
import toy_plugin
from micro_bench import ComponentSpec, hookimpl
from micro_bench import provenance as prov
from micro_bench.config import load_config
from micro_bench.host import Host
from micro_bench.runner import run_benchmark

BENCH = """\
version: 1
name: provbench
dataset: {name: toy, n: 30}
model: prevalence
trainer: {name: pinned_trainer, epochs: 1}
transform: null
evaluate: {split: test, threshold: 0.5}
metrics: [mean_score]
"""


class PinnedTrainer(toy_plugin.ToyTrainer):
    """The toy trainer, declaring that pluggy's version can change its numbers."""


class Pinned:
    @hookimpl
    def micro_bench_trainers(self):
        return [ComponentSpec("pinned_trainer", PinnedTrainer, "toy trainer", {"requires": ["pluggy"]})]


@pytest.fixture
def pm():
    return Host.load(builtins=False, entrypoints=False, plugins=[toy_plugin, Pinned(), micro_bench_environment.plugin,
                                                                    micro_bench_local.plugin])


def test_run_folder_records_environment_and_key_follows_versions(tmp_path, pm, monkeypatch):
    (tmp_path / "b.yaml").write_text(BENCH)
    config = load_config(tmp_path / "b.yaml")
    out = tmp_path / "runs"
    first = run_benchmark(config, out, host=pm, progress=False, echo=None)[0]
    run_dir = out / "provbench" / first.key
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["python"] == platform.python_version()
    assert env["distributions"] == {"micro-bench": env["distributions"]["micro-bench"],
                                    "pluggy": metadata.version("pluggy")}
    assert json.loads((run_dir / "config.json").read_text())["distributions"] == env["distributions"]
    assert env["cpu_count"] >= 1 and env["platform"]
    # Same versions: reused. pluggy "upgraded": a new key, so the run is computed again.
    assert run_benchmark(config, out, host=pm, progress=False, echo=None)[0].cached
    real = prov._version
    monkeypatch.setattr(prov, "_version", lambda d: "999.0" if d == "pluggy" else real(d))
    again = run_benchmark(config, out, host=pm, progress=False, echo=None)[0]
    assert not again.cached and again.key != first.key
    assert json.loads((out / "provbench" / again.key / "environment.json").read_text())[
        "distributions"]["pluggy"] == "999.0"


def test_bundled_and_third_party_components_name_their_distributions(tmp_path):
    pm = Host.load()  # bundled + entry points (the example ASL plugin when installed)
    text = """\
version: 1
dataset: {name: hpa_synth, n: 40, resolution: 32}
model: resnet18_4ch
trainer: torch
loss: bce
metrics: [f1_macro]
"""
    import yaml

    raw = yaml.safe_load(text)
    regs = pm.registries
    has_asl = "asl" in regs["loss"]
    if has_asl:
        raw["loss"] = "asl"
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path).runs[0]
    dists = prov.component_distributions(cfg, pm)
    assert dists["timm"] == metadata.version("timm") and dists["torch"] == metadata.version("torch")
    assert "micro-bench" in dists and "scikit-learn" not in dists
    if has_asl:
        assert dists["micro-bench-asl"] == metadata.version("micro-bench-asl")
