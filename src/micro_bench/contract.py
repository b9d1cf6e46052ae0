"""What the runner hands to components: the split, the run context and the run itself.

Plain data with no dependency on the rest of the core, so every module (hookspecs, runner,
plugins) can import it without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

    from micro_bench.host import Host
    from micro_bench.runconfig import RunConfig

__all__ = ["PARTS", "Run", "RunContext", "Scores", "Split", "Stash", "StashKey"]

#: The parts of a split, in order.
PARTS: tuple[str, ...] = ("train", "val", "test")
#: The split a config gets when it sets none (``split:`` keys override these).
SPLIT_DEFAULTS: Mapping[str, Any] = {"method": "multilabel_stratified", "fractions": [0.8, 0.1, 0.1], "seed": 0}
T = TypeVar("T")
D = TypeVar("D")


@dataclass(frozen=True, eq=False)
class Split:
    """The run's train/val/test partition of a dataset.

    Attributes:
        train, val, test: sorted ``(n,) int64`` dataset indices of each part.
        all_labels: the dataset's ``(N, K) bool`` labels (``labels(part)`` slices them).
        recipe: how the split was made: ``{"method", "fractions", "seed"}``.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    all_labels: np.ndarray
    recipe: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, dataset: Any, recipe: Mapping[str, Any] | None = None) -> Split:
        """The split of ``dataset`` (its ``split_indices``) by ``recipe``: ``{"method",
        "fractions", "seed"}``, by default the config's (stratified 0.8/0.1/0.1, seed 0)."""
        recipe = {**SPLIT_DEFAULTS, **(recipe or {})}
        args = {"fractions": tuple(recipe["fractions"]), "seed": recipe["seed"]}
        # ``method`` is the dataset's to implement: passed when its split_indices takes it (an
        # opt-in argument, as pluggy's); a dataset without it offers only the default method.
        if _accepts_method(dataset.split_indices):
            args["method"] = recipe["method"]
        elif recipe["method"] != SPLIT_DEFAULTS["method"]:
            from micro_bench.errors import ConfigError

            raise ConfigError(f"split method {recipe['method']!r}: dataset {getattr(dataset, 'name', type(dataset).__name__)!r} "
                              f"offers no split methods (its split_indices takes no 'method'); it splits only by "
                              f"{SPLIT_DEFAULTS['method']!r}")
        parts = {part: dataset.split_indices(part, **args) for part in PARTS}
        return cls(**parts, all_labels=dataset.labels, recipe=recipe)

    def indices(self, part: str) -> np.ndarray:
        """Sorted ``int64`` indices of ``part`` (``"train"``, ``"val"`` or ``"test"``)."""
        if part not in PARTS:
            raise KeyError(f"unknown split part {part!r}; expected one of {', '.join(PARTS)}")
        return cast("np.ndarray", getattr(self, part))

    def labels(self, part: str) -> np.ndarray:
        """``(n, K) bool`` labels of ``part``'s samples, in index order."""
        return self.all_labels[self.indices(part)]

    def sizes(self) -> dict[str, int]:
        return {part: len(self.indices(part)) for part in PARTS}


def _accepts_method(split_indices: Callable[..., Any]) -> bool:
    """Whether a dataset's ``split_indices`` takes a ``method`` keyword (or ``**kwargs``)."""
    import inspect

    try:
        params = inspect.signature(split_indices).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "method" or p.kind is p.VAR_KEYWORD for p in params)


class StashKey(Generic[T]):
    """A typed key of a :class:`Stash` (as pytest's ``StashKey``): ``KEY = StashKey[int]()``."""

    __slots__ = ()


class Stash:
    """Typed, namespaced storage for plugins on a :class:`RunContext` (as pytest's ``Stash``).

    A plugin keeps its own key object, so plugins cannot collide::

        MY_KEY = StashKey[list[float]]()
        context.stash[MY_KEY] = []
    """

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[StashKey[Any], Any] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._data[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        return cast(T, self._data[key])

    def get(self, key: StashKey[T], default: D) -> T | D:
        return cast("T | D", self._data.get(key, default))

    def setdefault(self, key: StashKey[T], default: T) -> T:
        return cast(T, self._data.setdefault(key, default))

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


def _no_epoch_end(epoch: int, metrics: Mapping[str, float]) -> None:
    return None


@dataclass
class RunContext:
    """What a trainer gets from the runner besides the components.

    Attributes:
        directory: the run's folder; checkpoints go in ``directory / "checkpoints"``.
        seed: the run's seed; every random draw derives from it.
        label: the table row this run produces; ``benchmark``: the benchmark's name.
        log: writes one line to the run's log file (and the terminal when verbose).
        epoch_end: call once per finished epoch with ``(epoch, metrics)``; the runner fires the
            ``micro_bench_epoch_end`` hook from it.
        progress: whether to show progress bars.
        position: ``(index, total)`` of this run in the benchmark, for progress text.
        stash: typed storage for plugins (:class:`Stash`).
        host: the :class:`~micro_bench.host.Host` running the run (its registries, e.g. to
            build the run's metrics for per-epoch scores); ``None`` outside the runner.
        components: the run's built components by config key (``Prepared.components``: dataset,
            model, trainer, loss, scheduler, transform, tta, sampler and any other kind with a
            config key), set before ``fit``: how a trainer reaches a kind its ``fit`` has no
            keyword for.
    """

    directory: Path
    seed: int = 0
    label: str = ""
    benchmark: str = ""
    log: Callable[[str], None] = print
    epoch_end: Callable[[int, Mapping[str, float]], None] = _no_epoch_end
    progress: bool = True
    position: tuple[int, int] = (1, 1)
    stash: Stash = field(default_factory=Stash)
    host: Host | None = None
    components: Mapping[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Scores:
    """The one input every metric of a run gets (per threshold rule), and what figures draw.

    Attributes:
        labels: ``(N, K) bool`` true labels of the evaluated part.
        scores: ``(N, K) float`` predicted probabilities.
        thresholds: ``(K,) float`` per-class decision thresholds.
        predictions: ``(N, K) bool`` decisions at those thresholds.
        classes: the K class names.
        stash: shared intermediates: a metric plugin computes its confusion counts or ranks once
            and keeps them here (under its own :class:`StashKey`) for the other metrics.
    """

    labels: np.ndarray
    scores: np.ndarray
    thresholds: np.ndarray
    predictions: np.ndarray
    classes: tuple[str, ...] = ()
    stash: Stash = field(default_factory=Stash)


@dataclass
class Run:
    """One run as the lifecycle hooks see it: its resolved config, key, folder and host."""

    config: RunConfig
    key: str
    directory: Path
    position: tuple[int, int] = (1, 1)
    #: The :class:`~micro_bench.host.Host` running it (its registries, its plugins).
    host: Host | None = None
    components: Mapping[str, Any] = field(default_factory=dict)
    #: The evaluated predictions, once computed (``None`` for a run reused from the cache).
    scores: Scores | None = None

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def benchmark(self) -> str:
        return self.config.benchmark
