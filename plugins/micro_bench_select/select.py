"""Model selection as the paper did for Table V.

The paper tuned on the validation set (Tables I, II, IV) and evaluated "the best" logistic
regression, random forest and ResNet50 on the test set. A ``select`` row does the same with the
results in its own runs directory: it reads the source benchmarks' finished rows
(``<runs>/<source>/index.json`` and each row's ``result.json``), runs a source benchmark first
when its results are missing (same profile), takes the row with the best validation ``metric``
(macro F1, ties to the first row in table order; a row with ``repeats`` competes with the mean
over its repeats), loads that row's trained model (of a row with repeats, the repeat trained
with the ``select`` run's own seed, so a ``select`` row with the same ``seed`` and ``repeats``
evaluates every repeat, and the table shows their mean and sd)
(:func:`micro_bench_predict.load_trained`, no retraining) and predicts the evaluated split with
it, exactly as the run would have (its standardization, TTA policy and seed). The choice, every
candidate's value and where they came from are returned as the history (in ``result.json``).

The selected run must have been trained on the same data and split as the ``select`` row
(same dataset fingerprint and split recipe), so its test split is the row's test split.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench import RunContext, Split
from micro_bench.errors import ComponentError

__all__ = ["SelectTrainer", "Selected", "best_row", "selected"]


class Selected:
    """Placeholder model of a ``select`` row; the trainer fills :attr:`trained` in ``fit``."""

    def __init__(self, num_classes: int, in_chans: int) -> None:
        self.num_classes, self.in_chans = num_classes, in_chans
        self.trained: Any = None

    def __repr__(self) -> str:
        return f"Selected({self.trained!r})"


def selected(num_classes: int, in_chans: int = 4, seed: int | None = None) -> Selected:
    """The ``selected`` model factory (its parameters are the runner's)."""
    return Selected(num_classes, in_chans)


def _benchmark_name(source: str) -> str:
    """A benchmark's name (its runs folder): ``source`` itself, or a YAML file's ``name`` key."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        import yaml

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ComponentError(f"trainer 'select': cannot read source benchmark {source}: {error}") from error
        name = raw.get("name") if isinstance(raw, dict) else None
        return name if isinstance(name, str) and name else path.stem
    return source


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _row_runs(runs_dir: Path, source: str, row: Mapping[str, Any], metric: str, split: str) -> list[dict[str, Any]]:
    """Every repeat of a manifest row (one entry for a row without repeats): ``{"key", "seed",
    "value"}`` in seed order, read from each run's ``result.json``."""
    runs = []
    for key in row.get("repeats") or [row["key"]]:
        result_path = runs_dir / source / key / "result.json"
        if not result_path.is_file():
            raise ComponentError(f"trainer 'select': {result_path} is missing (row {row['label']!r} of {source!r})")
        result = _read_json(result_path)
        evaluated = result.get("config", {}).get("evaluate", {}).get("split")
        value = result.get("metrics", {}).get(metric)
        if evaluated != split or not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ComponentError(
                f"trainer 'select': {result_path} has no {metric!r} on the {split!r} split "
                f"(evaluated on {evaluated!r}); selection needs every source row evaluated on {split!r}")
        seed = result.get("config", {}).get("seed")
        runs.append({"key": key, "seed": seed if isinstance(seed, int) else None, "value": float(value)})
    return runs


def best_row(runs_dir: Path, sources: Sequence[str], metric: str, split: str = "val",
             seed: int | None = None) -> dict[str, Any]:
    """The source row with the highest ``metric`` on ``split``, and the run of it to evaluate.

    A row with ``repeats: N`` competes with the **mean** of ``metric`` over its N repeats (each
    repeat's value is in ``result.json``), so a lucky seed does not pick the row. Of the chosen
    row, the repeat trained with ``seed`` is evaluated (the ``select`` row's own seed, so a
    ``select`` row with as many repeats evaluates every repeat of the chosen row, seed for seed);
    with ``seed`` None, or when the chosen row has a single run, its first (or only) run.

    Returns ``{"benchmark", "label", "key", "seed", "value", "repeat", "repeats", "values",
    "keys", "seeds", "directory", "candidates"}``: ``value`` the row's mean, ``values``/``keys``/
    ``seeds`` its repeats', ``key``/``seed``/``repeat`` (0-based) the evaluated run and
    ``directory`` its folder; ``candidates`` every row's ``benchmark, label, key, value``
    (``value`` the mean) plus ``values``, ``keys`` and ``seeds`` of its repeats.

    Rows are read from ``<runs_dir>/<source>/index.json`` in table order; ties go to the first.
    Raises :class:`ComponentError` (one line) when an index or result is missing, a run was
    evaluated on another split or lacks the metric, or the chosen row has repeats and none
    was trained with ``seed``.
    """
    candidates: list[dict[str, Any]] = []
    for source in sources:
        index_path = runs_dir / source / "index.json"
        if not index_path.is_file():
            raise ComponentError(f"trainer 'select': {index_path} is missing; run benchmark {source!r} first")
        for row in _read_json(index_path)["rows"]:
            runs = _row_runs(runs_dir, source, row, metric, split)
            values = [r["value"] for r in runs]
            candidates.append({"benchmark": source, "label": row["label"], "key": runs[0]["key"],
                               "value": float(np.mean(values)), "values": values,
                               "keys": [r["key"] for r in runs], "seeds": [r["seed"] for r in runs]})
    if not candidates:
        raise ComponentError(f"trainer 'select': no finished rows in {', '.join(sources)} under {runs_dir}")
    best = max(range(len(candidates)), key=lambda i: (candidates[i]["value"], -i))
    choice = dict(candidates[best])
    repeat = 0
    if seed is not None and len(choice["keys"]) > 1:
        if seed not in choice["seeds"]:
            raise ComponentError(
                f"trainer 'select': the selected row {choice['label']!r} of {choice['benchmark']} has "
                f"{len(choice['keys'])} repeats trained with seeds {', '.join(map(str, choice['seeds']))}, none "
                f"with this run's seed {seed}; give the select row seed: {choice['seeds'][0]} and "
                f"repeats: {len(choice['keys'])} to evaluate each repeat")
        repeat = choice["seeds"].index(seed)
    choice.update(key=choice["keys"][repeat], seed=choice["seeds"][repeat], repeat=repeat,
                  repeats=len(choice["keys"]), directory=str(runs_dir / choice["benchmark"] / choice["keys"][repeat]))
    return {**choice, "candidates": candidates}


class SelectTrainer:
    """Evaluates the best validation row of ``source`` benchmarks without retraining.

    Args:
        source: benchmark name(s) (or file(s)) whose rows compete, e.g. ``hpa_table1`` or
            ``[hpa_table3, hpa_table4]``; their results are read from the same runs directory.
        metric: the validation metric maximised (the paper: ``f1_macro``).
        profile: the profile a missing source benchmark is run with (the ``select`` row's own
            benchmark profile, e.g. ``smoke``); also required of existing results.
        device: where the selected run's trainer predicts (``auto``, ``cpu``, ``cuda``...), when it
            takes a ``device``.
    """

    def __init__(self, source: str | Sequence[str], metric: str = "f1_macro", profile: str | None = None,
                 device: str = "auto") -> None:
        given = [source] if isinstance(source, str) else list(source)
        if not given or not all(isinstance(s, str) and s for s in given):
            raise ComponentError(f"trainer 'select': source must be a benchmark name or a list of them, got {source!r}")
        #: benchmark name -> its file when given as a path (else resolved by name when needed).
        self.files = {_benchmark_name(s): s for s in given}
        self.sources, self.metric, self.profile = list(self.files), str(metric), profile
        self.device = device
        self.choice: dict[str, Any] | None = None

    def _ensure(self, runs_dir: Path, context: RunContext) -> None:
        """Run every source benchmark whose results are missing or come from another profile
        (through the public API: a fresh host with the installed plugins)."""
        import micro_bench

        for source in self.sources:
            index_path = runs_dir / source / "index.json"
            if index_path.is_file() and _read_json(index_path).get("profile") == self.profile:
                continue
            context.log(f"select: running {source} (profile {self.profile}) for its validation results")
            config = micro_bench.load_benchmark(self.files[source], profile=self.profile)
            micro_bench.run(config, runs_dir, progress=bool(context.progress), echo=context.log)

    def fit(self, model: Selected, dataset: Any, split: Split, *, loss: Any = None, schedule: Any = None,
            transform: Any = None, context: RunContext) -> Mapping[str, Any]:
        """Pick the best source row, check it was trained on this data and split, load its model."""
        runs_dir = Path(context.directory).parent.parent
        self._ensure(runs_dir, context)
        choice = best_row(runs_dir, self.sources, self.metric, seed=context.seed)
        config = _read_json(Path(choice["directory"]) / "config.json")
        recipe = {k: v for k, v in config["run"].get("split", {}).items()}
        ours = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(split.recipe).items()}
        if config.get("dataset_fingerprint") != dataset.fingerprint or (ours and recipe and ours != recipe):
            raise ComponentError(
                f"trainer 'select': the selected run {choice['directory']} was trained on dataset "
                f"{config.get('dataset_fingerprint')} split {recipe}, this row evaluates dataset "
                f"{dataset.fingerprint} split {ours}; give the row the source benchmark's dataset and split")
        from micro_bench_predict import ModelCardError, load_trained

        try:
            model.trained = load_trained(choice["directory"], device=self.device)
        except ModelCardError as error:
            raise ComponentError(
                f"trainer 'select': the selected row {choice['label']!r} of {choice['benchmark']} has no "
                f"loadable model ({error}); recompute it with: micro-bench run {self.files[choice['benchmark']]} "
                f"--run {choice['label']!r} --force" + (f" --profile {self.profile}" if self.profile else "")
            ) from error
        self.choice = choice
        mean = f"mean over {choice['repeats']} repeats " if choice["repeats"] > 1 else ""
        evaluated = (f"; evaluating its repeat {choice['repeat'] + 1}/{choice['repeats']} (seed {choice['seed']})"
                     if choice["repeats"] > 1 else "")
        context.log(f"select: {choice['benchmark']} row {choice['label']!r} ({self.metric} {mean}{choice['value']:.4f} "
                    f"on val, best of {len(choice['candidates'])}){evaluated}")
        return {"selected": {k: v for k, v in choice.items() if k != "candidates"},
                "candidates": choice["candidates"], "metric": self.metric, "split": "val",
                "sources": list(self.sources)}

    def predict(self, model: Selected, dataset: Any, indices: np.ndarray, *, tta: Any = None,
                transform: Any = None, context: RunContext) -> np.ndarray:
        """The selected run's probabilities ``(n, K)`` for ``indices``: its trainer's ``predict`` with
        its own TTA, transform and seed (:meth:`~micro_bench_predict.TrainedModel.predict_dataset`)."""
        if model.trained is None:
            raise RuntimeError("trainer 'select': predict before fit")
        return model.trained.predict_dataset(dataset, indices, progress=bool(context.progress))
