"""Run contract v2: the host reports misspelled hooks, ``validate`` rejects what ``run`` would,
without importing torch for a torch-free config, and the core has no import circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import micro_bench as mb
from micro_bench import ComponentSpec, Host, hookimpl, load_benchmark
from micro_bench.errors import ConfigError, PluginError

SRC = Path(__file__).parents[2] / "src" / "micro_bench"

TORCH_BENCH = """\
version: 1
name: contract
dataset: {name: hpa_synth, n: 40, resolution: 32}
model: {name: resnet18_4ch, pretrained: false}
trainer: {name: torch, batch_size: 8, epochs: 1, device: cpu}
loss: bce
scheduler: {name: sgdr, cycle_len: 1, cycle_mult: 2, cycles: 2}
tta: {name: random, n: 2}
metrics: [f1_macro]
runs: [{label: a}]
"""


class Misspelled:
    @hookimpl
    def micro_bench_dataset(self):  # the hook is micro_bench_datasets
        return []


def test_misspelled_hook_is_reported_with_plugin_and_hook():
    host = Host.load(builtins=False, entrypoints=False)
    with pytest.raises(PluginError, match=r"plugin 'typo' implements unknown hook 'micro_bench_dataset'; "
                                          r"did you mean 'micro_bench_datasets'\?"):
        host.register(Misspelled(), name="typo")
    assert host.pm.get_plugin("typo") is None
    host.pm.check_pending()  # nothing unknown was left registered


def test_misspelled_hook_in_a_plugins_folder_marks_it_broken(tmp_path, monkeypatch):
    monkeypatch.delenv("MICRO_BENCH_STRICT_PLUGINS", raising=False)
    (tmp_path / "typo.py").write_text(
        "from micro_bench import hookimpl\n\n@hookimpl\ndef micro_bench_lossess():\n    return []\n")
    host = Host.load(builtins=False, entrypoints=False, plugins_dir=tmp_path)
    (info,) = host.plugin_infos()
    assert info.status == "broken" and "unknown hook 'micro_bench_lossess'" in (info.error or "")
    monkeypatch.setenv("MICRO_BENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="micro_bench_lossess"):
        Host.load(builtins=False, entrypoints=False, plugins_dir=tmp_path)


@pytest.fixture(scope="module")
def host():
    return Host.load(entrypoints=False, plugins_dir=None)


CASES = [
    ("trainer.batch_size=0", "runs[0].trainer.batch_size: expected an integer >= 2, got int 0 (model.min_batch is 2)"),
    ("trainer.epochs=-1", "runs[0].trainer.epochs: expected an integer >= 0 or null, got int -1"),
    ("trainer.lr=.nan", "runs[0].trainer.lr: expected a number > 0 or 'find', got float nan"),
    ("seed=-1", "runs[0].seed: expected an integer in [0, 4294967295]"),
    ("dataset.n=0", "runs[0].dataset.n: expected an integer in [1, 10000000], got int 0"),
    ("loss={name: focal, gamma: -1}", "runs[0].loss.gamma: expected a number >= 0, got int -1"),
    ("scheduler.cycles=0", "runs[0].scheduler.cycles: expected an integer >= 1, got int 0"),
    ("tta.n=-1", "runs[0].tta.n: expected an integer in [1, 1024], got int -1"),
    ("tta.reduce=median", "runs[0].tta.reduce: expected one of mean, max, got str 'median'"),
    ("trainer.batch_size=eight", "runs[0].trainer.batch_size: expected an integer >= 2, got str 'eight'"),
]


@pytest.mark.parametrize(("override", "message"), CASES, ids=[c[0] for c in CASES])
def test_validate_rejects_each_bad_parameter_with_a_located_line(tmp_path, host, override, message):
    path = tmp_path / "bench.yaml"
    path.write_text(TORCH_BENCH.replace("runs: [{label: a}]", f"runs: [{{label: a, {_as_yaml(override)}}}]"))
    with pytest.raises(ConfigError) as err:
        load_benchmark(path, host=host)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and message in text, text


def _as_yaml(override: str) -> str:
    """``a.b=v`` -> ``a: {b: v}`` (run-level keys, so the error names runs[0])."""
    keys, _, value = override.partition("=")
    head, *rest = keys.split(".")
    for key in reversed(rest):
        value = f"{{{key}: {value}}}"
    if head in ("dataset", "trainer", "scheduler", "tta") and rest:
        value = value[:-1] + ", name: " + {"dataset": "hpa_synth", "trainer": "torch", "scheduler": "sgdr",
                                           "tta": "random"}[head] + "}"
    return f"{head}: {value}"


def test_device_cuda_without_a_gpu_is_refused_by_validate(tmp_path, host):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    path = tmp_path / "bench.yaml"
    path.write_text(TORCH_BENCH.replace("device: cpu", "device: cuda"))
    with pytest.raises(ConfigError, match=r"runs\[0\]\.trainer|trainer: trainer 'torch': device 'cuda' asked for"):
        load_benchmark(path, host=host)


def test_the_valid_config_passes(tmp_path, host):
    path = tmp_path / "bench.yaml"
    path.write_text(TORCH_BENCH)
    assert load_benchmark(path, host=host).runs[0].label == "a"


def test_validate_a_torch_free_config_does_not_import_torch():
    code = ("import sys, micro_bench as mb\n"
            "mb.load_benchmark('hpa_table1', profile='smoke', host=mb.Host.load(entrypoints=False))\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "False", out.stderr


def _module_imports(path: Path) -> set[str]:
    """``micro_bench.*`` modules imported at module level (not under TYPE_CHECKING, not in functions)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("micro_bench"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("micro_bench"))
    return found


def core_import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports at load time (the graph printed in the notes)."""
    modules = {".".join(("micro_bench", *p.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__"): p
               for p in SRC.rglob("*.py")}
    return {name: {m for m in _module_imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_import_circle_in_the_core():
    graph = core_import_graph()
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join([*stack[stack.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_third_party_component_with_check_is_validated_without_building(tmp_path):
    built: list[int] = []

    def check(size: int = 1) -> None:
        from micro_bench.errors import ParameterError

        if size < 1:
            raise ParameterError(f"dataset 'costly': size must be >= 1, got {size}")

    class Costly:
        @hookimpl
        def micro_bench_datasets(self):
            return [ComponentSpec("costly", lambda size=1: built.append(size), check=check)]

    host = Host.load(entrypoints=False, plugins=[Costly()])
    path = tmp_path / "bench.yaml"
    path.write_text(TORCH_BENCH.replace("{name: hpa_synth, n: 40, resolution: 32}", "{name: costly, size: 0}"))
    with pytest.raises(ConfigError, match=r"dataset: dataset 'costly': size must be >= 1, got 0"):
        load_benchmark(path, host=host)
    assert built == []


DOCS = Path(__file__).parents[2] / "docs" / "writing-plugins.md"

CENTROID_BENCH = """\
version: 1
name: thirdparty
title: A third-party trainer
seed: 0
dataset: {name: toy, n: 40}
model: centroids
trainer: centroid
transform: null
split: {fractions: [0.5, 0.25, 0.25], seed: 1}
evaluate: {split: test, threshold: 0.5}
metrics: [mean_score, accuracy]
runs: [{label: centroids}]
"""


def _doc_plugin(folder: Path) -> Path:
    """``docs/writing-plugins.md``'s trainer, written to ``folder`` verbatim (the test runs the doc)."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("```python\n# my_plugins/centroid.py\n") + len("```python\n")
    code = text[start:text.index("```", start)]
    assert "micro_bench_" not in code.replace("micro_bench_models", "").replace("micro_bench_trainers", "")
    path = folder / "centroid.py"
    path.write_text(code, encoding="utf-8")
    return path


def test_third_party_trainer_from_the_docs_trains_on_its_split_and_appears_in_a_table(tmp_path):
    import numpy as np

    import micro_bench_conformance as conformance
    import toy_plugin
    from micro_bench import Split
    from micro_bench_tables.tables import build_table, render

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    _doc_plugin(plugins)
    import micro_bench_local.plugin

    host = Host.load(builtins=False, entrypoints=False, plugins_dir=plugins,
                     plugins=[toy_plugin, micro_bench_local.plugin])
    assert [i.status for i in host.plugin_infos()] == ["ok", "ok", "ok"]
    assert all(r.ok for r in conformance.check_plugin(host, "centroid")), conformance.check_plugin(host, "centroid")
    path = tmp_path / "bench.yaml"
    path.write_text(CENTROID_BENCH)
    config = load_benchmark(path, host=host)
    (result,) = mb.run(config, tmp_path / "runs", host=host, echo=None, progress=False)
    dataset = host.registries["dataset"].create("toy", n=40)
    split = Split.of(dataset, config.runs[0].split)
    assert result.history["n_train"] == len(split.train) == 20  # the split it was given, not all data
    assert result.counts["n"] == split.sizes()
    table = build_table(tmp_path / "runs" / "thirdparty")
    assert [label for label, _ in table.rows] == ["centroids"]
    assert "| centroids |" in render(table, "md")
    assert table.rows[0][1][1].ours == result.metrics["accuracy"] > 0

    # fit sees exactly the indices of the split: another train part, other centroids
    module = sys.modules["micro_bench_local_centroid"]
    model, trainer = module.Centroids(3, 2), module.CentroidTrainer()
    context = mb.RunContext(directory=tmp_path, log=lambda line: None)
    other = Split(split.val, split.train, split.test, dataset.labels, {})
    trainer.fit(model, dataset, other, loss=None, schedule=None, transform=None, context=context)
    np.testing.assert_allclose(trainer.mean, dataset.channel_stats(split.val)[0])
