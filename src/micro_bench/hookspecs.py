# mypy: disable-error-code="empty-body"
"""Hook specifications: every hook micro-bench calls, as a typed signature plus its contract.

The pluggy project name and the entry-point group are both ``micro_bench``. Implement a hook
with :data:`micro_bench.hookimpl`; ``docs/hooks.md`` documents each one with examples (a test
keeps its signatures equal to these).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

    from micro_bench.components import ComponentSpec
    from micro_bench.config import BenchmarkConfig
    from micro_bench.contract import Run
    from micro_bench.host import Host
    from micro_bench.results import RunResult

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "micro_bench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def micro_bench_datasets() -> Iterable[ComponentSpec]:
    """Provide datasets (config key ``dataset``).

    Every implementation is called; names must be unique across plugins. Each factory returns an
    object meeting :class:`micro_bench.components.Dataset`.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_models() -> Iterable[ComponentSpec]:
    """Provide models (config key ``model``).

    Every implementation is called. A factory is called with the config's parameters plus
    ``num_classes`` and ``in_chans`` from the dataset (and the run's ``seed`` when it takes a
    ``seed`` keyword the config does not set), and returns a torch ``nn.Module`` with
    ``layer_groups()`` or a scikit-learn style estimator.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_trainers() -> Iterable[ComponentSpec]:
    """Provide trainers (config key ``trainer``).

    Every implementation is called. Each factory returns an object meeting
    :class:`micro_bench.components.Trainer` (``fit`` and ``predict``).

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_losses() -> Iterable[ComponentSpec]:
    """Provide losses (config key ``loss``).

    Every implementation is called. Each factory returns a callable
    ``(logits (B, K), targets (B, K)) -> scalar tensor``, the mean over all elements.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_schedulers() -> Iterable[ComponentSpec]:
    """Provide learning-rate schedules (config key ``scheduler``).

    Every implementation is called. Each factory returns an object meeting
    :class:`micro_bench.components.Schedule`: ``multiplier(step, steps_per_epoch)``, ``epochs``
    and ``attach(optimizer, steps_per_epoch)``.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_transforms() -> Iterable[ComponentSpec]:
    """Provide training augmentations (config key ``transform``).

    Every implementation is called. Each factory returns an object meeting
    :class:`micro_bench.components.Transform`: ``transform(images, *, generator) -> images`` on
    ``(B, C, H, W)`` float 0-1 batches. The trainer applies it to training batches and random-view
    TTA draws its views with it.

    .. versionadded:: 0.2
    """


@hookspec
def micro_bench_samplers() -> Iterable[ComponentSpec]:
    """Provide training samplers (config key ``sampler``).

    Every implementation is called. Each factory returns an object meeting
    :class:`micro_bench.components.Sampler`: ``weights(labels) -> (n,) float`` and
    ``epoch_size``. A trainer that takes a ``sampler`` argument in ``fit`` draws each epoch's
    samples with it; the runner refuses a sampler for a trainer without one.

    .. versionadded:: 0.2
    """


@hookspec
def micro_bench_tta_policies() -> Iterable[ComponentSpec]:
    """Provide test-time augmentation policies (config key ``tta``).

    Every implementation is called. Each factory returns an object meeting
    :class:`micro_bench.components.TTAPolicy`: ``views(batch)`` and ``reduce(probabilities)``.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_metrics() -> Iterable[ComponentSpec]:
    """Provide metrics (config key ``metrics``, a list; registry kind ``metric``).

    Every implementation is called. Each factory, called with the config's parameters, returns a
    callable ``(y_true (N, K) bool, y_score (N, K) float, y_pred (N, K) bool)`` returning a
    float, or a per-class mapping ``{"0": value, ...}``.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_threshold_rules() -> Iterable[ComponentSpec]:
    """Provide threshold rules (config ``evaluate.threshold: NAME``; registry kind ``threshold``).

    Every implementation is called. Each factory returns an object meeting
    :class:`micro_bench.components.ThresholdRule`: ``fit(y_true, y_score) -> (K,) thresholds``
    on the validation predictions, and a one-line ``description``. A number is the core's own
    rule: the same threshold for every class.

    .. versionadded:: 0.2
    """


@hookspec
def micro_bench_run_loggers() -> Iterable[ComponentSpec]:
    """Provide run loggers (``micro-bench run --log NAME``; registry kind ``logger``).

    Every implementation is called. Each factory, called without parameters once per computed
    run that ``--log`` names it for, returns an object meeting
    :class:`micro_bench.components.RunLogger`: ``start(run)``, ``epoch(run, epoch, metrics)`` and
    ``end(run, result)``, optionally ``check()``. The bundled ``loggers`` plugin provides
    ``tensorboard`` and ``mlflow``.

    .. versionadded:: 0.3
    """


@hookspec
def micro_bench_benchmarks() -> Iterable[str | Path]:
    """Provide benchmark files (YAML), runnable by name: ``micro-bench run <name>``.

    Every implementation is called. Return paths to files shipped with the plugin (package
    data); a file's ``name`` key (default: its stem) is the benchmark's name, and a relative
    ``reference:`` path resolves beside it, so ship the reference CSVs with it.

    .. versionadded:: 0.2
    """


@hookspec
def micro_bench_executors() -> Mapping[str, str]:
    """Name executors for ``micro-bench run --executor NAME`` (bundled: ``local``, ``dask``).

    Every implementation is called; each returns ``{name: "package.module:callable"}``. The
    callable runs every row of a benchmark and returns the results in row order::

        run(config, out, *, host, force, progress, echo, options) -> list[RunResult]

    ``options`` holds ``scheduler``, ``workers``, ``threads_per_run``, ``retries`` and
    ``plugins_dir`` as given on the command line (absent keys: the executor's defaults).

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def micro_bench_resolve_component(kind: str, name: str) -> ComponentSpec | None:
    """Resolve a name no provider hook listed, for open namespaces such as ``timm:<model>``.

    The first non-``None`` result wins. Return ``None`` for names you do not own.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def micro_bench_process_rank() -> int | None:
    """This process's rank in a multi-process launch, where rank 0 is the one process that writes.

    The first non-``None`` result wins (firstresult); ``None`` from every plugin (or no plugin): a
    single process, rank 0. Under a launch every process runs the benchmark (training needs all
    of them), but only rank 0 holds the run locks, writes results and manifests, prints and fires
    the lifecycle hooks. The bundled ``torch`` plugin implements torchrun's convention (the
    ``RANK`` environment variable). Called often: keep it cheap (no imports of heavy modules).

    .. versionadded:: 0.3
    """


@hookspec
def micro_bench_add_commands(cli: click.Group, host: Host) -> None:
    """Add commands to the ``micro-bench`` command line group.

    Every implementation is called once, when the CLI starts, with the CLI's
    :class:`~micro_bench.host.Host` (an implementation may take only ``cli``). A command gets the
    host when it runs with the :func:`micro_bench.pass_host` decorator.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_configure(config: BenchmarkConfig) -> None:
    """Inspect a loaded benchmark config before any run starts.

    Every implementation is called. Raise ``micro_bench.config.ConfigError`` to reject it.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_run_start(run: Run) -> None:
    """Called when a run begins (not for runs reused from the cache). Every implementation is called.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_epoch_end(run: Run, epoch: int, metrics: Mapping[str, Any]) -> None:
    """Called after each training epoch with that epoch's numbers (``train_loss``, ``lr``, ...).

    Every implementation is called. Useful for loggers (TensorBoard, W&B, CSV).

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_run_end(run: Run, result: RunResult) -> None:
    """Called when a run finishes and its result is written. Every implementation is called.

    .. versionadded:: 0.1
    """


@hookspec
def micro_bench_index_fields(config: BenchmarkConfig, host: Host) -> Mapping[str, Any] | None:
    """Add fields to a benchmark's table manifest (``index.json``) when the runner writes it.

    Every implementation is called; each returns ``{field: JSON-able value}`` (or ``None``),
    written after the manifest's own header fields and before ``rows``. A field the manifest
    has itself is refused (a :class:`~micro_bench.errors.PluginError` naming the plugin); one that
    two plugins give follows the one duplicate policy (the first registered keeps it, the other is
    reported naming both). The bundled ``tables`` plugin records what each
    metric's spec declares for tables (``metric_info``) and the reference's example counts
    (``reference_counts_csv``, from ``<reference stem>_counts.csv``).

    .. versionadded:: 0.3
    """


@hookspec
def micro_bench_benchmark_end(config: BenchmarkConfig, index: Path, results: Sequence[RunResult]) -> str | None:
    """Called by ``micro-bench run`` (main process) once the rows have run and the table manifest
    ``index`` lists them: ``<out>/<benchmark>/index.json``, or ``index.set-<hash>.json`` for a run
    with ``--set`` overrides. ``results``: the rows run now.

    Every implementation is called; each returned string is printed after the run (not with
    ``--json``). The bundled ``tables`` plugin writes ``table.md``/``.csv``/``.tex`` beside
    ``index`` and returns the table as the terminal shows it.

    .. versionadded:: 0.2
    """
