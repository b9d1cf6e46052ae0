"""Component specifications and the contract each kind of component must meet.

A plugin's provider hook returns :class:`ComponentSpec` objects. ``factory`` is preferably a
lazy ``"package.module:callable"`` string so that listing and validating never import torch.
The factory, called with the config's parameters, returns an object that satisfies the
``Protocol`` of its kind below. Shapes are written in the names or docstrings:
``labels: (N, K) bool`` means N samples by K classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from micro_bench.contract import Run, RunContext, Split

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

    from micro_bench.results import RunResult

__all__ = [
    "KINDS",
    "KIND_TABLE",
    "Kind",
    "OPTIONAL",
    "ComponentSpec",
    "Dataset",
    "Loss",
    "Metric",
    "RunLogger",
    "Sampler",
    "Schedule",
    "TTAPolicy",
    "ThresholdRule",
    "Trainer",
    "Transform",
    "configured",
    "kind",
    "offers",
]

@dataclass(frozen=True)
class Kind:
    """One component kind: everything the core knows about it, in one entry of :data:`KIND_TABLE`
    (plus its provider hook's spec in :mod:`micro_bench.hookspecs`).

    Attributes:
        name: the registry kind (``host.registries[name]``).
        hook: the provider hook.
        plural: for messages (``Available losses: ...``).
        key: the run config key holding one such component; ``None`` for kinds configured
            elsewhere (``metrics``: a list; ``evaluate.threshold``). A run's components are kept
            under these keys (``RunConfig.components``, ``Prepared.components``,
            ``RunContext.components``) and written into the run key in table order.
        built: whether ``validate`` builds it (cheap to construct), else only checks its parameters.
        protocol: the Protocol (in this module) its factories' objects meet; ``object`` for models
            (a torch ``nn.Module`` or a scikit-learn style estimator).
        required: the default when a run's config does not set ``key``: required (an error), or
            (``False``) the component a plugin declares ``default=True`` for, else none.
    """

    name: str
    hook: str
    plural: str
    key: str | None
    built: bool
    protocol: Any
    required: bool = False


def kind(name: str) -> Kind:
    """The :data:`KIND_TABLE` entry of kind ``name`` (read at call time)."""
    for entry in KIND_TABLE:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown component kind {name!r}")


def configured() -> dict[str, Kind]:
    """``{config key: Kind}`` of the kinds a run configures by key, in :data:`KIND_TABLE` order
    (read at call time, so a kind added to the table is seen everywhere)."""
    return {entry.key: entry for entry in KIND_TABLE if entry.key is not None}


#: What a component MAY offer beyond its kind's required members: declared here (and in the
#: Protocols' docstrings), checked by conformance when present, listed in docs/hooks.md. Methods
#: are read as "offered" when callable, flags when true; nothing is guessed from signatures.
OPTIONAL: dict[str, dict[str, str]] = {
    "trainer": {
        "save": "save(model, path) -> None: write the trained model into the run's model folder",
        "load": "load(path, model) -> model: the trained model back (with save; predict and select need both)",
        "finalize": "finalize(context) -> None: called once the run's result is written (e.g. drop resume state)",
        "accepts_sampler": "accepts_sampler = True: fit takes a keyword sampler (runs may configure one)",
    },
    "dataset": {"reader": "reader() -> (indices -> (n, C, R, R) uint8 ndarray): a fast picklable reader"},
    "loss": {"adapt": "adapt(labels (n, K) bool) -> Mapping: fitted on the train labels before training"},
    "logger": {
        "check": "check() -> None: raise ConfigError (e.g. naming the library to install) before any run starts",
        "fail": "fail(run, error) -> None: instead of end when the run raised after start (close what start opened)",
    },
}


def offers(component: Any, member: str) -> bool:
    """Whether ``component`` (an instance, or a factory class) offers the optional ``member`` of
    :data:`OPTIONAL`: a callable for a method, a true value for a flag."""
    value = getattr(component, member, None)
    return bool(value) if member.startswith("accepts_") else callable(value)


@dataclass(frozen=True)
class ComponentSpec:
    """One named component a plugin provides.

    Args:
        name: the config-facing id, e.g. ``"focal"``. Lower case, ``[a-z0-9_:.-]``.
        factory: ``"package.module:callable"`` (imported on first use) or the callable itself.
        description: one line shown by ``micro-bench list``.
        extra: free-form metadata (e.g. ``{"paper": "Lin et al. 2017"}``), shown by ``list -v``.
            Metrics declare ``title`` (table column) and ``per_class`` (a value per class).
        check: optional ``"module:callable"`` (or callable) taking the factory's parameters and
            raising :class:`~micro_bench.errors.ParameterError` for values the factory refuses,
            without building anything: ``validate`` calls it for components too expensive to
            build (datasets, models); the runner calls it before the factory.
        default: this component is what a run gets when its config does not set the kind's key
            (``transform: null`` still turns it off); at most one per kind across the installed
            plugins (two are refused naming both). Required kinds (dataset, model, trainer) take none.
    """

    name: str
    factory: str | Callable[..., Any]
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    check: str | Callable[..., Any] | None = None
    default: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"ComponentSpec.name must be a non-empty str, got {self.name!r}")
        if not isinstance(self.default, bool):
            raise TypeError(f"ComponentSpec {self.name!r}: default must be True or False, got {self.default!r}")
        if isinstance(self.factory, str):
            module, sep, attr = self.factory.partition(":")
            if not sep or not module or not attr:
                raise ValueError(
                    f"ComponentSpec {self.name!r}: factory {self.factory!r} must look like "
                    "'package.module:callable'"
                )
        elif not callable(self.factory):
            raise TypeError(
                f"ComponentSpec {self.name!r}: factory must be a 'module:callable' string or a "
                f"callable, got {type(self.factory).__name__}"
            )


@runtime_checkable
class Dataset(Protocol):
    """A multi-label image dataset.

    Attributes:
        classes: K class names.
        channels: C channel names, e.g. ``("red", "green", "blue", "yellow")``.
        ids: N sample ids.
        labels: ``(N, K) bool``.
        resolution: side length R of the square images served.
        fingerprint: a hash that changes whenever ids, labels or pixels would change.
    """

    classes: Sequence[str]
    channels: Sequence[str]
    ids: Sequence[str]
    labels: np.ndarray
    resolution: int
    fingerprint: str

    def split_indices(
        self, part: str, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
    ) -> np.ndarray:
        """Sorted ``int64`` indices of ``part`` (``"train"``, ``"val"`` or ``"test"``). Optional
        keyword ``method``: the config's ``split.method`` (passed only to a dataset that takes it;
        one without it offers only ``multilabel_stratified``)."""

    def images(self, indices: np.ndarray | None = None) -> Any:
        """Lazy ``(n, C, R, R) uint8`` array (a dask array) of the given samples."""

    def channel_stats(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(mean, std)``, each ``(C,) float64`` on the 0-255 scale, over ``indices``
        (trainers pass ``split.train``)."""

    def describe(self) -> Mapping[str, Any]:
        """What produced the data, for table headers: ``{"name", "n", "resolution", ...}``."""


class Loss(Protocol):
    """``(logits (B, K) float, targets (B, K) float in {0, 1}) -> scalar tensor``, mean over all elements.

    Optional: ``adapt(labels (n, K) bool) -> Mapping`` (e.g. per-class weights from the train
    split); a trainer calls it once with the train labels before training and records what it
    returns (the bundled ``torch`` trainer: ``history["loss_weights"]``).
    """

    def __call__(self, logits: Any, targets: Any) -> Any: ...


class Schedule(Protocol):
    """A learning-rate schedule as a pure function of the global step.

    Attributes:
        epochs: the number of epochs the schedule spans (``None`` if it has no own length).
    """

    epochs: int | None

    def multiplier(self, step: int, steps_per_epoch: int) -> float:
        """Factor applied to each parameter group's base rate at ``step`` (0-based), ``>= 0``."""

    def attach(self, optimizer: Any, steps_per_epoch: int) -> Any:
        """A torch ``LRScheduler`` stepping ``optimizer`` once per iteration by ``multiplier``."""


class Transform(Protocol):
    """Training augmentation (config key ``transform``), also used by random-view TTA.

    ``images``: a ``(B, C, H, W) float32`` torch tensor on the 0-1 scale, not yet standardized,
    on any device. Returns a randomly augmented batch of the same shape, dtype and device,
    deterministic for a given ``generator`` (a ``torch.Generator``) state. Standardization
    happens after it, in the trainer.
    """

    def __call__(self, images: Any, *, generator: Any) -> Any: ...


class Sampler(Protocol):
    """Which training samples an epoch draws (config key ``sampler``; none: each sample once).

    ``weights(labels (n, K) bool) -> (n,) float >= 0``: relative draw probability of each train
    sample, from the train split's labels. ``epoch_size``: samples drawn per epoch (with
    replacement, seeded by the trainer), ``None`` for n. A trainer that cannot sample refuses a
    run that configures one.
    """

    epoch_size: int | None

    def weights(self, labels: Any) -> Any: ...


class TTAPolicy(Protocol):
    """Test-time augmentation: views of a batch and a reduction of their predictions."""

    def views(self, images: Any, generator: Any | None = None, *, transform: Transform | None = None) -> Iterable[Any]:
        """Yield ``(B, C, H, W)`` views of an un-standardized 0-1 batch; the first is the batch
        itself where the policy keeps it. Random policies draw views with ``transform``."""

    def reduce(self, probabilities: Any) -> Any:
        """``(V, B, K)`` probabilities of V views -> ``(B, K)``."""


class Metric(Protocol):
    """``(y_true (N, K) bool, y_score (N, K) float, y_pred (N, K) bool) -> float`` or a
    per-class mapping ``{class_index_as_str: float}``."""

    def __call__(self, y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray) -> float | Mapping[str, float]: ...


class ThresholdRule(Protocol):
    """Per-class decision thresholds fitted on the validation predictions (config
    ``evaluate.threshold: NAME``): ``fit(y_true (N, K) bool, y_score (N, K) float) -> (K,) float``;
    ``description``: one line for results and table notes. Labels are ``y_score > thresholds``."""

    description: str

    def fit(self, y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray: ...


class Trainer(Protocol):
    """Fits a model and predicts probabilities.

    ``loss`` and ``schedule`` may be ``None`` for trainers that do not use them (``sklearn``).

    Optional members (:data:`OPTIONAL`; see docs/hooks.md):

    * ``save(model, path: Path) -> None``: write the trained model into ``path``, the run's empty
      model folder (``<run>/model/``); called after predicting, before the result is written.
    * ``load(path: Path, model) -> model``: the trained model from ``path`` (``model``: the run's
      model freshly built from its config); also restores what :meth:`predict` needs, so that
      ``predict`` then equals the run's. ``micro-bench predict`` and ``select`` need both.
    * ``finalize(context) -> None``: called on the main process once the result is written.
    * ``accepts_sampler = True``: ``fit`` takes a keyword ``sampler`` (a :class:`Sampler`); a run
      configuring a sampler for a trainer without it is refused.
    """

    def fit(
        self,
        model: Any,
        dataset: Dataset,
        split: Split,
        *,
        loss: Loss | None,
        schedule: Schedule | None,
        transform: Transform | None,
        context: RunContext,
    ) -> Mapping[str, Any]:
        """Train ``model`` in place on ``split.train`` (``split.val`` for validation losses);
        return a history (e.g. ``{"train_loss": [...]}``)."""

    def predict(
        self, model: Any, dataset: Dataset, indices: np.ndarray, *, tta: TTAPolicy | None,
        transform: Transform | None, context: RunContext,
    ) -> np.ndarray:
        """``(len(indices), K) float`` probabilities in ``[0, 1]``."""


class RunLogger(Protocol):
    """Logs computed runs somewhere (``micro-bench run --log NAME``; registry kind ``logger``).

    The factory is called without parameters once per computed run that ``--log`` (the
    ``MICRO_BENCH_LOGGERS`` variable, comma-separated names) names it for, on the process that
    writes the run (rank 0; a dask worker for the dask executor); runs reused from the cache are
    not logged. The core calls ``start`` after the ``micro_bench_run_start`` hooks, ``epoch`` after
    each epoch's ``micro_bench_epoch_end`` hooks, and ``end`` after every ``micro_bench_run_end``
    hook (figures and the model card are written by then). ``run``: the
    :class:`~micro_bench.contract.Run` (``key``, ``label``, ``benchmark``, ``directory``,
    ``config``); ``result``: the written :class:`~micro_bench.results.RunResult`. A logger that
    raises is reported in the run's log naming its plugin and gets no more calls for that run
    (``end`` still comes after a failed ``epoch``, so it can close); the run and the other
    loggers go on.

    Optional (:data:`OPTIONAL`): ``check() -> None``, called on a freshly built logger before any
    run starts; raise :class:`~micro_bench.errors.ConfigError` in one line when it cannot work
    (e.g. its library is not installed: ``--log mlflow needs MLflow: pip install ...``).
    ``fail(run, error) -> None``, called instead of ``end`` when the run raises after ``start``
    (``error``: the run's exception, which still propagates unchanged whatever ``fail`` does):
    close what ``start`` opened and mark the run failed (the MLflow logger ends its run FAILED).
    A logger without ``fail`` gets no call when the run fails.
    """

    def start(self, run: Run) -> None: ...

    def epoch(self, run: Run, epoch: int, metrics: Mapping[str, Any]) -> None:
        """One epoch's numbers as the trainer reported them (``train_loss``, ``lr``, ...)."""

    def end(self, run: Run, result: RunResult) -> None:
        """The final numbers; close what ``start`` opened."""


#: Every component kind, in the order a run composes them. Adding a kind: one entry here plus its
#: provider hook's spec (:mod:`micro_bench.hookspecs`); config loading, ``validate``, the run key,
#: ``prepare`` and the run context pick it up from here.
KIND_TABLE: tuple[Kind, ...] = (
    Kind("dataset", "micro_bench_datasets", "datasets", "dataset", False, Dataset, required=True),
    Kind("model", "micro_bench_models", "models", "model", False, object, required=True),
    Kind("trainer", "micro_bench_trainers", "trainers", "trainer", True, Trainer, required=True),
    Kind("loss", "micro_bench_losses", "losses", "loss", True, Loss),
    Kind("scheduler", "micro_bench_schedulers", "schedulers", "scheduler", True, Schedule),
    Kind("transform", "micro_bench_transforms", "transforms", "transform", True, Transform),
    Kind("tta", "micro_bench_tta_policies", "tta policies", "tta", True, TTAPolicy),
    Kind("sampler", "micro_bench_samplers", "samplers", "sampler", True, Sampler),
    Kind("metric", "micro_bench_metrics", "metrics", None, True, Metric),
    Kind("threshold", "micro_bench_threshold_rules", "threshold rules", None, True, ThresholdRule),
    Kind("logger", "micro_bench_run_loggers", "run loggers", None, True, RunLogger),
)
#: Registry kinds, in the order a run composes them (:data:`KIND_TABLE`'s names).
KINDS: tuple[str, ...] = tuple(k.name for k in KIND_TABLE)
