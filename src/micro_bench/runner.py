"""Expand a benchmark into runs, reuse finished ones, execute the rest, fire lifecycle hooks.

One run: dataset -> split -> model/trainer/loss/schedule/TTA -> ``trainer.fit`` ->
``trainer.predict`` on the evaluated split -> thresholds -> metrics -> ``runs/<bench>/<key>/``.
The key hashes the resolved run config, the dataset fingerprint, the package version and the
versions of the distributions that provided the run's components (:mod:`micro_bench.provenance`).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from micro_bench.build import build_dataset, key_of, prepare, run_key, sampler_argument
from micro_bench.components import offers
from micro_bench.config import BenchmarkConfig, RunConfig
from micro_bench.contract import PARTS, Run, RunContext, Scores
from micro_bench.dist import is_main_process
from micro_bench.errors import MicroBenchError, PluginError
from micro_bench.evaluate import (
    check_probabilities,
    check_split,
    class_counts,
    compute_metrics,
    labels_from,
    thresholds_for,
)
from micro_bench.hookcall import call_hook, first_registered
from micro_bench.results import RunResult, index_name, read_result, sha256_file, write_json
from micro_bench.runfolder import FINALISED, MODEL_FOLDER, run_lock, set_aside, written_since
from micro_bench.runlog import RunLoggers
from micro_bench.runlog import check as check_loggers

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["build_dataset", "key_of", "run_benchmark", "run_key", "run_one"]


def _logger(path: Path, echo: Callable[[str], None] | None) -> Callable[[str], None]:
    def log(line: str) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        if echo is not None:
            echo(line)

    return log


def run_one(
    cfg: RunConfig, out: Path, *, host: Host, dataset: Any = None, force: bool = False,
    position: tuple[int, int] = (1, 1), progress: bool = True, echo: Callable[[str], None] | None = None,
    wait: bool = True, fresh_since: float | None = None,
) -> RunResult | None:
    """Execute (or reuse) one run and return its result; under the run's lock (see
    :mod:`micro_bench.runfolder`). ``wait=False``: None at once if another process holds it.
    ``fresh_since``: a result written after this time counts as forced already."""
    from micro_bench.provenance import component_distributions

    ds = dataset if dataset is not None else build_dataset(cfg, host)
    dists = component_distributions(cfg, host)
    key = run_key(cfg, ds.fingerprint, dists)
    directory = Path(out) / cfg.benchmark / key
    # Under a multi-process launch (torchrun: the torch plugin answers micro_bench_process_rank) every
    # rank trains (the collectives need them) but only rank 0 writes files,
    # holds the run's lock and fires the lifecycle hooks, so loggers and figures see each run once.
    main = is_main_process(host)
    with run_lock(directory, wait=wait) if main else nullcontext(True) as held:
        if not held:
            return None
        finished = None if force and not written_since(directory, fresh_since) else read_result(directory)
        if finished is not None:
            if main and not (directory / FINALISED).exists():  # killed before its run_end hooks
                _finalise(host, Run(cfg, key, directory, position, host), finished, _logger(directory / "log.txt", echo))
            finished.cached, finished.label = True, cfg.label
            return finished
        with set_aside(directory, main and force):
            return _execute(cfg, key, directory, ds, host, main=main, position=position,
                            progress=progress, echo=echo, dists=dists, reuse=not force)


def _finalise(host: Host, run: Run, result: RunResult, log: Callable[[str], None],
              loggers: RunLoggers | None = None) -> None:
    call_hook(host.pm, "micro_bench_run_end", log, run=run, result=result)
    if loggers is not None:  # after every run_end hook: figures and model card are written
        loggers.end(result)
    (run.directory / FINALISED).touch()


def _execute(
    cfg: RunConfig, key: str, directory: Path, ds: Any, host: Host, *,
    main: bool, position: tuple[int, int], progress: bool, echo: Callable[[str], None] | None,
    dists: Mapping[str, str], reuse: bool = True,
) -> RunResult:
    """Train (or, with ``reuse``, load the model of a finished run with the same training key:
    :mod:`micro_bench.reuse`), predict, score and (on the main process) write one run into
    ``directory``."""
    import numpy as np

    from micro_bench._version import __version__
    from micro_bench.reuse import find_trained, for_loading, training_key

    train_key = training_key(cfg.to_dict(), ds.fingerprint, __version__, dists)
    source = (find_trained(directory.parent, train_key, exclude=key)
              if reuse and offers(host.registries["trainer"].load(cfg.trainer.name), "load") else None)
    if main:
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / "config.json", {"key": key, "training_key": train_key,
                                               "dataset_fingerprint": ds.fingerprint,
                                               "version": __version__, "distributions": dict(dists),
                                               "run": cfg.to_dict(),
                                               **({"trained_in": source.name} if source else {})})
    run = Run(cfg, key, directory, position, host)
    log = _logger(directory / "log.txt", echo) if main else (lambda line: None)
    loggers: RunLoggers | None = None  # the run loggers --log chose (micro_bench.runlog), main process only

    def epoch_end(epoch: int, metrics: Mapping[str, Any]) -> None:
        call_hook(host.pm, "micro_bench_epoch_end", log, run=run, epoch=epoch, metrics=metrics)
        if loggers is not None:
            loggers.epoch(epoch, metrics)

    ctx = RunContext(
        directory=directory, seed=cfg.seed, label=cfg.label, log=log, progress=progress,
        position=position, benchmark=cfg.benchmark, host=host,
        epoch_end=epoch_end if main else (lambda epoch, m: None),
    )
    if main:
        call_hook(host.pm, "micro_bench_run_start", log, run=run)
        loggers = RunLoggers(host, run, log)
    try:
        built = prepare(for_loading(cfg, host.registries["model"]) if source else cfg, host, dataset=ds)
        ctx.components = built.components
        t0, split = time.perf_counter(), built.split
        check_split(split, cfg.evaluate, log)
        if source is not None:  # same training, other evaluation: the finished run's model
            built.model = built.trainer.load(source / MODEL_FOLDER, built.model)
            finished = read_result(source)
            history = {**(finished.history if finished is not None else {}), "trained_in": source.name}
            log(f"{cfg.label!r}: trained as run {source.name} (only the evaluation differs): its model, not retrained")
        else:
            history = built.trainer.fit(built.model, ds, split, loss=built.loss, schedule=built.scheduler,
                                        transform=built.transform, context=ctx, **sampler_argument(built)) or {}
        t1 = time.perf_counter()
        part = cfg.evaluate["split"]
        eval_idx = split.indices(part)

        who = f"trainer {cfg.trainer.name!r} (plugin {host.registries['trainer'].plugin_of(cfg.trainer.name)})"

        def predict(indices: Any) -> Any:
            scores = built.trainer.predict(built.model, ds, indices, tta=built.tta, transform=built.transform,
                                           context=ctx)
            return check_probabilities(scores, len(indices), ds.classes, who, lambda row: str(ds.ids[int(indices[row])]))

        y_score = np.asarray(predict(eval_idx), float)
        y_true = np.asarray(split.labels(part), bool)
        rule = cfg.evaluate["threshold"]
        val = None
        if isinstance(rule, str):
            val_score = y_score if part == "val" else predict(split.val)
            val = (split.labels("val"), val_score)
        fitted = host.registries["threshold"].create(rule) if isinstance(rule, str) else None
        thresholds = thresholds_for(rule, y_true.shape[1], val, fitted)
        y_pred = labels_from(y_score, thresholds["values"])
        t2 = time.perf_counter()
        run.scores = Scores(y_true, y_score, np.asarray(thresholds["values"], float), y_pred, tuple(ds.classes))
        result = RunResult(
            benchmark=cfg.benchmark, label=cfg.label, key=key, metrics=compute_metrics(built.metrics, run.scores),
            thresholds=thresholds, history=dict(history), dataset=dict(ds.describe()),
            counts=class_counts(ds.labels, {p: split.indices(p) for p in PARTS}),
            timings={"fit_s": t1 - t0, "predict_s": t2 - t1}, config=cfg.to_dict(), version=__version__,
        )
        result.dataset.setdefault("fingerprint", ds.fingerprint)
        if not main:
            return result
        np.savez_compressed(directory / "predictions.npz", ids=np.asarray([ds.ids[i] for i in eval_idx]),
                            y_true=y_true, y_score=y_score, y_pred=y_pred)
        if offers(built.trainer, "save"):  # before result.json: a finished run has its model
            folder = directory / MODEL_FOLDER
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            built.trainer.save(built.model, folder)
        # digests of what the result rests on, for `micro-bench verify` (result.json itself is checked
        # by recomputing its metrics from predictions.npz)
        write_json(directory / "result.json", {**result.to_dict(), "files": file_digests(directory)})
        if offers(built.trainer, "finalize"):
            built.trainer.finalize(ctx)  # e.g. the torch trainer removes its resume checkpoint
        log(f"finished {cfg.label!r}: " + ", ".join(
            f"{k}={v:.4f}" for k, v in result.metrics.items() if isinstance(v, float)))
        _finalise(host, run, result, log, loggers)
        return result
    except BaseException as exc:  # the loggers still open close (fail); the run's error goes on unchanged
        if loggers is not None:
            loggers.fail(exc)
        raise


def file_digests(directory: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of ``predictions.npz`` and every file of ``model/``."""
    files = [directory / "predictions.npz", *sorted((directory / MODEL_FOLDER).rglob("*"))]
    return {f.relative_to(directory).as_posix(): sha256_file(f) for f in files if f.is_file()}


def run_benchmark(
    config: BenchmarkConfig, out: str | Path = "runs", *, host: Host, force: bool = False,
    executor: str = "local", scheduler: str | None = None, progress: bool = True,
    executor_options: Mapping[str, Any] | None = None,
    echo: Callable[[str], None] | None = logging.getLogger("micro_bench.run").info,
) -> list[RunResult]:
    """Run every row of ``config`` and write its table manifest ``<out>/<benchmark>/index.json``
    (``index.set-<hash>.json`` with ``--set`` overrides: :func:`~micro_bench.results.index_name`).

    Progress lines go to ``echo``: by default the ``micro_bench.run`` logger at INFO, so a library
    call prints nothing unless the caller configures logging (the CLI does)."""
    options = {**({"scheduler": scheduler} if scheduler else {}), **dict(executor_options or {})}
    main = is_main_process(host)
    check_loggers(host)  # the loggers MICRO_BENCH_LOGGERS names exist and can work, before any run
    results = list(_executor(host, executor)(config, Path(out), force=force, host=host, options=options,
                                             progress=progress, echo=echo if main else None))
    if main:
        write_index(config, Path(out), results, host)
    return results


def _executor(host: Host, name: str) -> Callable[..., list[RunResult]]:
    """The executor a plugin names ``name`` through ``micro_bench_executors`` (the bundled
    ``local`` and ``dask``), imported."""
    import importlib

    found: dict[str, Any] = {}
    for plugin, mapping in first_registered(host.pm, call_hook(host.pm, "micro_bench_executors")):
        for executor, target in dict(mapping).items():
            if executor in found:  # the one duplicate policy: the first registered plugin keeps it
                host.report_duplicate("executor", executor, found[executor][0], plugin)
            else:
                found[executor] = (plugin, target)
    if name not in found:
        raise MicroBenchError(f"unknown executor {name!r}; available: "
                              f"{', '.join(sorted(found, key=lambda n: (n != 'local', n))) or '(none)'}")
    target = found[name][1]
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    return target


def write_index(config: BenchmarkConfig, out: Path, results: list[RunResult], host: Host) -> Path:
    """Write the benchmark's table manifest: rows in order, table settings, reference data, and
    the fields plugins add through ``micro_bench_index_fields`` (the tables plugin: what each
    metric's spec declares for tables, the reference's example counts)."""
    # The paper's numbers are for one split: none beside results evaluated on another.
    evaluated = sorted({run.evaluate["split"] for run in config.runs})
    other_split = config.reference_split is not None and evaluated != [config.reference_split]
    reference = config.reference.read_text(encoding="utf-8") if config.reference and not other_split else None
    header: dict[str, Any] = {
        "benchmark": config.name, "title": config.title, "config_file": str(config.path),
        "evaluated_split": evaluated[0] if len(evaluated) == 1 else evaluated,
        **({"reference_split": config.reference_split} if config.reference_split else {}),
        "profile": config.profile, "overrides": list(config.overrides), "table": dict(config.table),
        "metrics": [m.name for m in config.metrics], "reference_csv": reference,
    }
    own = {*header, "rows", "ci", "dataset"}
    given: dict[str, str] = {}
    for plugin, fields in first_registered(host.pm, call_hook(host.pm, "micro_bench_index_fields",
                                                              config=config, host=host)):
        for name, value in dict(fields).items():
            if name in own:
                raise PluginError(f"plugin {plugin!r}: micro_bench_index_fields gave {name!r}, a field of "
                                  "the manifest itself; use another name")
            if name in given:
                host.report_duplicate("index field", name, given[name], plugin)
                continue
            given[name] = plugin
            header[name] = value
    path = out / config.name / index_name(config.overrides)
    write_json(path, {**header, "rows": _rows(results), "ci": _ci(config),
                      "dataset": results[0].dataset if results else {}})
    return path


def _rows(results: list[RunResult]) -> list[dict[str, Any]]:
    """One manifest row per table row: its label and first run's key, plus ``repeats`` (every
    repeat's key, in seed order) for a row with several repeats."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r.label, {"label": r.label, "key": r.key, "repeats": []})
        row["repeats"].append(r.key)
    return [row if len(row["repeats"]) > 1 else {"label": row["label"], "key": row["key"]} for row in rows.values()]


def _ci(config: BenchmarkConfig) -> dict[str, Any] | None:
    """The benchmark's ``evaluate.ci`` (the first row's, over the defaults; None when off)."""
    from micro_bench.config import check_ci

    return check_ci(config.runs[0].evaluate.get("ci") if config.runs else None, "evaluate.ci")
