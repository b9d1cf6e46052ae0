"""Batched prediction over a source of images, and the ``predict(run_dir, images)`` API.

Samples are decoded by a torch ``DataLoader`` (``workers`` processes), stacked into batches of
``batch_size`` and streamed through :meth:`TrainedModel.predict_batches`; unusable samples are
kept aside as :class:`~micro_bench_predict.sources.Problem` records. Labels come from the
project's threshold function (:func:`micro_bench_metrics.thresholds.apply_thresholds`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_predict.card import ModelCardError
from micro_bench_predict.sources import Problem, card_input, open_source
from micro_bench_predict.trained import TrainedModel, load_trained, parse_threshold

__all__ = ["Predictions", "predict", "predict_source", "resolve_run_dir"]


@dataclass
class Predictions:
    """What one prediction pass produced.

    Attributes:
        ids: predicted sample ids, in source order; proba: ``(n, K)``; labels: ``(n, K) bool``.
        thresholds: ``(K,)`` used; rule: how they were chosen. problems: skipped samples.
        seconds: wall time of decoding and prediction; first: up to ``keep`` ``(id, image)``.
    """

    ids: list[str]
    proba: np.ndarray
    labels: np.ndarray
    thresholds: np.ndarray
    rule: str
    classes: list[str]
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    first: list[tuple[str, np.ndarray]] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return len(self.ids) / self.seconds if self.seconds > 0 else 0.0

    def predicted(self) -> list[str]:
        """Kaggle's ``Predicted`` column: space-separated class indices per image."""
        return [" ".join(str(k) for k in np.flatnonzero(row)) for row in self.labels]

    def to_frame(self, probabilities: bool = True) -> Any:
        """A pandas DataFrame ``Id, Predicted[, one column per class name]``."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "predict() returns a pandas DataFrame: install pandas (pip install 'micro-bench[pandas]'), "
                "or use load_trained(run_dir).predict_proba(images) for numpy arrays") from None
        frame = pd.DataFrame({"Id": self.ids, "Predicted": self.predicted()})
        if probabilities:
            frame = pd.concat([frame, pd.DataFrame(self.proba, columns=self.classes)], axis=1)
        frame.attrs.update(thresholds=self.thresholds.tolist(), rule=self.rule,
                           skipped=[p.__dict__ for p in self.problems])
        return frame


def _as_list(items: list[Any]) -> list[Any]:
    return items


def predict_source(model: TrainedModel, source: Any, *, threshold: Any = None, batch_size: int | None = None,
                   workers: int = 0, tta: bool = True, progress: bool = False, keep: int = 0) -> Predictions:
    """Predict every usable sample of ``source`` (see :mod:`micro_bench_predict.sources`)."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    rule, thresholds = parse_threshold(threshold, model.card)
    size = int(batch_size or model.batch_size)
    ids: list[str] = []
    problems: list[Problem] = []
    first: list[tuple[str, np.ndarray]] = []
    loader = DataLoader(source, batch_size=size, num_workers=workers, collate_fn=_as_list)
    bar = tqdm(total=len(source), unit="img", desc="predict", disable=None if progress else True,
               dynamic_ncols=True, leave=False)

    def batches() -> Iterator[np.ndarray]:
        for items in loader:
            good = [(i, x) for i, x in items if not isinstance(x, Problem)]
            problems.extend(x for _, x in items if isinstance(x, Problem))
            first.extend(good[: max(keep - len(first), 0)])
            if good:
                ids.extend(i for i, _ in good)
                yield np.stack([x for _, x in good])
            bar.update(len(items))

    start = time.perf_counter()
    proba = model.predict_batches(batches(), tta=tta)
    seconds = time.perf_counter() - start
    bar.close()
    from micro_bench_metrics.thresholds import apply_thresholds

    proba = proba.reshape(len(ids), len(model.classes))
    return Predictions(ids, proba, apply_thresholds(proba, thresholds), thresholds, rule, model.classes,
                       problems, seconds, first)


def resolve_run_dir(path: str | Path, run: str | None = None) -> Path:
    """A run folder from ``path`` (a run folder, or a benchmark's runs folder with ``run`` = the
    row label)."""
    path = Path(path)
    if (path / "result.json").is_file() and run is None:
        return path
    index = path / "index.json"
    if not index.is_file():
        if run is not None:
            raise ModelCardError(f"{path}: --run needs a benchmark's runs folder (runs/<benchmark>, with index.json)")
        raise ModelCardError(f"{path}: not a finished run (no result.json) nor a benchmark's runs folder (no index.json)")
    from micro_bench.errors import MicroBenchError
    from micro_bench.results import read_index

    try:
        rows = read_index(path)["rows"]
    except MicroBenchError as error:
        raise ModelCardError(str(error)) from None
    labels = [str(r.get("label")) for r in rows]
    if run is None:
        raise ModelCardError(f"{path}: a benchmark's runs folder; choose a row with --run, one of: {', '.join(map(repr, labels))}")
    keys = []
    for r in rows:
        if str(r.get("label")) == run:
            first = r.get("key") or (r.get("repeats") or [None])[0]
            keys.append(first.get("key") if isinstance(first, dict) else first)
    if not keys:
        raise ModelCardError(f"{path}: no row labelled {run!r}; rows: {', '.join(map(repr, labels))}")
    if not isinstance(keys[0], str) or not re.fullmatch(r"[0-9a-f]{8,64}", keys[0]):
        raise ModelCardError(f"{index}: row {run!r} names {keys[0]!r}, not a run key (a folder name of hex digits)")
    return path / keys[0]


def predict(run_dir: str | Path, images: Any, *, run: str | None = None, ids: Sequence[str] | None = None,
            threshold: Any = None, probabilities: bool = True, tta: bool = True, device: str = "auto",
            batch_size: int | None = None, workers: int = 0, progress: bool = False, pattern: str | None = None) -> Any:
    """Predict ``images`` with the model of a finished run; a pandas DataFrame.

    Args:
        run_dir: a run folder, or a benchmark's runs folder with ``run`` (a row label).
        images: ``(n, C, S, S) uint8`` in the run's channel order (resized to the run's R when
            larger), or a path: a folder of ``<id>_<color>`` images or a micro-bench zarr store.
        ids: ids of an array's images (default ``"0" .. "n-1"``).
        threshold: ``None`` (the run's), a number, ``"tuned"``, ``"prevalence"`` or a file.
        probabilities: add one column per class name.
        tta: apply the run's TTA policy.
        device, batch_size, workers: where and how to run (defaults: CUDA when present, the
            trainer's batch size, decoding in this process).
        pattern: the files of a sample in a folder (``{id}``, ``{channel}``), instead of the
            run's store's recorded pattern.

    Returns:
        ``Id, Predicted`` (space-separated class indices, the Kaggle format) and the class
        columns; ``frame.attrs["skipped"]`` lists the samples that could not be read.
    """
    model = load_trained(resolve_run_dir(run_dir, run), device=device)
    source = open_source(images, model.channels, model.resolution, ids, **card_input(model.card), pattern=pattern)
    return predict_source(model, source, threshold=threshold, batch_size=batch_size, workers=workers,
                          tta=tta, progress=progress).to_frame(probabilities)
