"""An exception raised in a third-party plugin's code is that plugin's failure: one line naming the
plugin, its origin and where it failed, exit 1; micro-bench's own failures stay internal errors
(exit 70)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import toy_plugin
from micro_bench.blame import blame
from micro_bench.host import Host
from micro_bench_commands.cli import cli

BOOM = '''\
from micro_bench import ComponentSpec, hookimpl


class Boom:
    def fit(self, model, dataset, split, *, loss, schedule, transform, context):
        return self._step(dataset)

    def _step(self, dataset):
        raise ValueError("the centroids diverged")

    def predict(self, model, dataset, indices, *, tta, transform, context):
        raise AssertionError("not reached")


@hookimpl
def micro_bench_trainers():
    return [ComponentSpec("boom", Boom)]
'''


def _setup(tmp_path: Path) -> tuple[Host, Path]:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "boomer.py").write_text(BOOM)
    import micro_bench_commands.plugin
    import micro_bench_local.plugin

    host = Host.load(builtins=False, entrypoints=False, plugins_dir=folder,
                     plugins=[toy_plugin, micro_bench_local.plugin, micro_bench_commands.plugin])
    bench = tmp_path / "bench.yaml"
    bench.write_text(toy_plugin.TOY_BENCH.replace("trainer: {name: toy_trainer, epochs: 2}", "trainer: boom")
                     .replace("reference: ref.csv\n", ""))
    return host, bench


def test_an_exception_in_a_third_party_fit_names_the_plugin_and_exits_1(tmp_path, monkeypatch):
    monkeypatch.setenv("MICRO_BENCH_CACHE", str(tmp_path / "cache"))
    host, bench = _setup(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(bench), "--out", str(tmp_path / "runs")], obj=host)
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: plugin 'boomer' (")
    assert "boomer.py) failed in fit: ValueError: the centroids diverged (traceback in " in line
    assert "internal error" not in result.output
    (log,) = (tmp_path / "cache" / "crash").iterdir()
    assert 'raise ValueError("the centroids diverged")' in log.read_text()


def test_blame_names_the_innermost_third_party_frame_and_not_micro_bench(tmp_path):
    import numpy as np
    import pytest

    host, _ = _setup(tmp_path)
    trainer = host.registries["trainer"].create("boom")
    with pytest.raises(ValueError) as info:
        trainer.fit(None, None, None, loss=None, schedule=None, transform=None, context=None)
    culprit = blame(info.value, host)
    assert culprit is not None and (culprit.plugin, culprit.where) == ("boomer", "fit")
    assert str(culprit).endswith("boomer.py) failed in fit: ValueError: the centroids diverged")
    with pytest.raises(Exception) as info:  # the toy dataset's own code, called with a bad index
        host.registries["dataset"].create("toy", n=4).images(np.array([99]))
    assert blame(info.value, host).plugin == "toy_plugin"  # type: ignore[union-attr]
    with pytest.raises(Exception) as info:  # raised by the core's registry: micro-bench's own
        host.registries["trainer"].create("no_such_trainer")
    assert blame(info.value, host) is None
    from micro_bench_metrics.thresholds import apply_thresholds

    with pytest.raises(Exception) as info:  # a bundled plugin's failure is micro-bench's
        apply_thresholds(np.zeros((2, 3)), np.zeros(5))
    assert blame(info.value, Host.load(entrypoints=False)) is None
