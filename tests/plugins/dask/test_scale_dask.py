"""Runs inside dask.distributed worker processes compute what they compute locally."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from micro_bench_baselines.features import pixel_features
from toy_plugin import TOY_BENCH

TESTS = str(Path(__file__).parents[2])  # tests/: toy_plugin for the worker processes


def _features() -> np.ndarray:
    from tests.plugins.baselines.test_baselines import FakeDataset

    ds = FakeDataset()
    mean, std = ds.channel_stats(np.arange(ds.n_train))
    return pixel_features(ds, np.arange(40), mean, std, resolution=16)


@pytest.mark.slow
def test_pixel_features_inside_a_worker_process_match_local() -> None:
    """The baselines' feature matrix is filled in the worker's own memory: before the fix the
    store ran on the cluster, filled a copy elsewhere and left zeros (a constant predictor)."""
    distributed = pytest.importorskip("distributed")
    sys.path.insert(0, TESTS)
    local = _features()
    assert local.std() > 0.5
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        client.run(lambda: sys.path.insert(0, TESTS))
        remote = client.submit(_features, pure=False).result()
    np.testing.assert_array_equal(remote, local)


#: The shared toy benchmark as a grid of four rows, its trainer a placeholder (``TRAINER``).
BENCH = (TOY_BENCH.split("reference:")[0].replace("name: toybench", "name: toygrid")
         .replace("title: Toy table", "title: Toy grid").replace("name: toy_trainer", "name: TRAINER")
         + "runs:\n" + "".join(f"  - {{label: {label}, model: {{noise: {noise}}}}}\n"
                                for label, noise in zip("abcd", (0.0, 0.2, 0.4, 0.6), strict=True)))

CRASHY = '''
"""A trainer that kills its worker process the first time it fits each row."""
import os
from pathlib import Path

from micro_bench import ComponentSpec, hookimpl
from toy_plugin import ToyTrainer


class Crashy(ToyTrainer):
    def fit(self, model, dataset, split, *, loss, schedule, transform, context):
        marker = Path(os.environ["MB_CRASH_DIR"]) / context.label
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(3)  # the worker process dies mid-run
        return super().fit(model, dataset, split, loss=loss, schedule=schedule, transform=transform,
                           context=context)


@hookimpl
def micro_bench_trainers():
    return [ComponentSpec("crashy", Crashy, "Dies once per row")]
'''


@pytest.fixture
def grid(tmp_path, monkeypatch):
    """A 4-row toy benchmark; worker processes find the in-test plugins through PYTHONPATH."""
    pytest.importorskip("distributed")
    import micro_bench_dask.plugin
    import micro_bench_local.plugin
    import toy_plugin
    from micro_bench.config import load_config
    from micro_bench.host import Host

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([TESTS, *sys.path]))
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "crashy.py").write_text(CRASHY)
    monkeypatch.setenv("MB_CRASH_DIR", str(tmp_path))

    def make(trainer: str) -> tuple[object, object]:
        path = tmp_path / f"{trainer}.yaml"
        path.write_text(BENCH.replace("TRAINER", trainer))
        pm = Host.load(builtins=False, entrypoints=False, plugins_dir=plugins,
                       plugins=[toy_plugin, micro_bench_dask.plugin, micro_bench_local.plugin])
        return load_config(path), pm

    return make


def bounded(fn, *args, seconds: float = 300, **kwargs):
    """``fn(*args, **kwargs)`` in a daemon thread: a cluster that stops making progress fails the
    test after ``seconds`` instead of hanging the suite."""
    import threading

    out: dict[str, object] = {}

    def target() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"the dask benchmark did not finish in {seconds:.0f} s")
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]


@pytest.mark.slow
def test_two_worker_processes_give_the_serial_results(grid, tmp_path):
    from micro_bench.runner import run_benchmark

    config, pm = grid("toy_trainer")
    serial = run_benchmark(config, tmp_path / "serial", host=pm, echo=None)
    lines: list[str] = []
    remote = bounded(run_benchmark, config, tmp_path / "dask", host=pm, echo=lines.append, executor="dask",
                           executor_options={"workers": 2})
    assert [r.label for r in remote] == ["a", "b", "c", "d"]
    assert [r.key for r in remote] == [r.key for r in serial]
    assert [r.metrics for r in remote] == [r.metrics for r in serial]
    assert lines[0].startswith("sending 4 runs to 2 dask worker(s)")
    assert sorted(line.split("]")[0] for line in lines[1:]) == [f"[{i}/4 done" for i in range(1, 5)]
    # Same keys, same folders: a serial rerun over the dask results reuses every run.
    again = run_benchmark(config, tmp_path / "dask", host=pm, echo=None)
    assert all(r.cached for r in again)


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_retried_and_every_row_finishes_once(grid, tmp_path):
    import json

    from micro_bench.runner import run_benchmark

    config, pm = grid("crashy")
    results = bounded(run_benchmark, config, tmp_path / "runs", host=pm, echo=None, executor="dask",
                            executor_options={"workers": 2, "retries": 2})
    assert [r.label for r in results] == ["a", "b", "c", "d"]
    assert all((tmp_path / label).exists() for label in "abcd")  # each row's first attempt died
    index = json.loads((tmp_path / "runs" / "toygrid" / "index.json").read_text())
    assert [row["label"] for row in index["rows"]] == ["a", "b", "c", "d"]
    finished = sorted(p.parent.name for p in (tmp_path / "runs" / "toygrid").glob("*/result.json"))
    assert finished == sorted(r.key for r in results) and len(set(finished)) == 4


def test_unknown_executor_names_the_available_ones(tmp_path, toy_pm):
    from micro_bench.config import load_config
    from micro_bench.errors import MicroBenchError
    from micro_bench.runner import run_benchmark

    path = tmp_path / "b.yaml"
    path.write_text(BENCH.replace("TRAINER", "toy_trainer"))
    with pytest.raises(MicroBenchError, match=r"unknown executor 'ray'; available: local"):
        run_benchmark(load_config(path), tmp_path / "o", host=toy_pm, echo=None, executor="ray")


@pytest.mark.slow
def test_unreachable_scheduler_is_one_clear_error(tmp_path):
    pytest.importorskip("distributed")
    import micro_bench_dask.plugin
    import toy_plugin
    from micro_bench.config import load_config
    from micro_bench.errors import MicroBenchError
    from micro_bench.host import Host
    from micro_bench.runner import run_benchmark

    path = tmp_path / "b.yaml"
    path.write_text(BENCH.replace("TRAINER", "toy_trainer"))
    pm = Host.load(builtins=False, entrypoints=False, plugins=[toy_plugin, micro_bench_dask.plugin])
    with pytest.raises(MicroBenchError, match=r"cannot reach the dask scheduler at tcp://127.0.0.1:9"):
        run_benchmark(load_config(path), tmp_path / "o", host=pm, echo=None, executor="dask",
                      scheduler="tcp://127.0.0.1:9", executor_options={"connect_timeout": "2s"})


def _worker_state() -> dict[str, object]:
    """What a worker process has before it ran any task."""
    import joblib

    from micro_bench_dask import executor

    return {"pid": os.getpid(), "ppid": os.getppid(), "sklearn": "sklearn.linear_model" in sys.modules,
            "skops": "skops.io" in sys.modules, "toy": "toy_plugin" in sys.modules,
            "hosts": len(executor._HOSTS), "omp": os.environ.get("OMP_NUM_THREADS"),
            "n_jobs": joblib.effective_n_jobs(-1), "marker": os.environ.get("MB_SCALE_MARKER")}


@pytest.mark.slow
def test_local_workers_are_forked_warm_with_pools_of_threads_per_run(grid, monkeypatch):
    """Start-up is paid once: both workers come from one forkserver that imported the run
    libraries and the component modules and built the host; "all cores" means --threads-per-run;
    the caller's environment of now reaches the workers (as with spawned ones)."""
    distributed = pytest.importorskip("distributed")
    import dask

    from micro_bench_dask.cluster import local_cluster, start_method
    from micro_bench_dask.executor import _factories, recipe_of

    config, pm = grid("toy_trainer")
    monkeypatch.setenv("MB_SCALE_MARKER", "now")
    with dask.config.set({"distributed.worker.multiprocessing-method": start_method(0)}), \
            local_cluster(2, 1, 0, recipe_of(pm), _factories(config, pm)) as cluster, \
            distributed.Client(cluster) as client:
        states = list(client.run(_worker_state).values())
    assert start_method(0) == "forkserver"
    assert len(states) == 2 and len({s["pid"] for s in states}) == 2
    assert len({s["ppid"] for s in states}) == 1 and states[0]["ppid"] != os.getpid()  # one forkserver
    for state in states:
        assert state["sklearn"] and state["skops"] and state["toy"] and state["hosts"] >= 1
        assert (state["omp"], state["n_jobs"], state["marker"]) == ("1", 1, "now")


@pytest.mark.slow
def test_a_running_scheduler_on_loopback_gives_the_serial_results(grid, tmp_path):
    """``--scheduler tcp://...``: a cluster started on its own (spawned worker processes, as
    ``dask worker`` starts them) runs every row; same keys and metrics as the serial executor."""
    distributed = pytest.importorskip("distributed")
    from micro_bench.runner import run_benchmark

    config, pm = grid("toy_trainer")
    serial = run_benchmark(config, tmp_path / "serial", host=pm, echo=None)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        lines: list[str] = []
        remote = bounded(run_benchmark, config, tmp_path / "remote", host=pm, echo=lines.append, executor="dask",
                         scheduler=cluster.scheduler_address)
    assert [(r.label, r.key, r.metrics) for r in remote] == [(r.label, r.key, r.metrics) for r in serial]
    assert lines[0] == f"sending 4 runs to 2 dask worker(s) at {cluster.scheduler_address}"


def test_forkserver_preload_list_and_start_method():
    """The forkserver preloads distributed, the warm-up module and each component's module once
    (from ``module:attr`` strings or callables, never ``__main__``); GPU clusters spawn."""
    from micro_bench_dask.cluster import preload_modules, start_method

    def local() -> None: ...

    local.__module__ = "__main__"
    names = preload_modules(["micro_bench_baselines.models:logreg", np.zeros_like, local,
                             "micro_bench_baselines.models:random_forest", "toy_plugin:ToyTrainer"])
    assert names == ["distributed", "micro_bench_dask.warm", "micro_bench_baselines.models", "numpy", "toy_plugin"]
    assert start_method(1) == "spawn" and start_method(0) in ("forkserver", "spawn")
