"""A finished run's model, loaded back for prediction: :func:`load_trained` -> :class:`TrainedModel`.

``TrainedModel.predict_proba(images)`` takes ``(n, C, R, R) uint8`` images in the run's channel
order at the run's resolution and returns ``(n, K)`` probabilities computed as the run computed
its own evaluation: the train split's channel statistics, the run's TTA policy and seed (torch),
or the ``sklearn`` trainer's own feature path (baselines). Weights are read with
``torch.load(weights_only=True)`` or skops (scikit-learn and numpy types only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from micro_bench_predict.card import ModelCardError, read_card
from micro_bench_predict.rules import parse_threshold

__all__ = ["TrainedModel", "load_trained", "parse_threshold"]


class TrainedModel:
    """A run's trained model with its preprocessing (see the module docstring).

    Attributes:
        card: the run's ``model.json``; directory: the run folder.
        classes: K class names; channels: C channel names in input order; resolution: R.
        mean, std: ``(C,)`` train-split statistics on the 0-255 scale.
        batch_size: default images per forward pass (the run's trainer's).
    """

    def __init__(self, card: Mapping[str, Any], directory: Path, predict_fn: Callable[..., np.ndarray],
                 batch_size: int, device: str) -> None:
        self.card = dict(card)
        self.directory = Path(directory)
        self.classes: list[str] = list(card["classes"])
        self.channels: list[str] = list(card["input"]["channels"])
        self.resolution = int(card["input"]["resolution"])
        self.mean = np.asarray(card["statistics"]["mean"], dtype=np.float64)
        self.std = np.asarray(card["statistics"]["std"], dtype=np.float64)
        self.batch_size = int(batch_size)
        self.device = device
        self._predict = predict_fn

    @property
    def kind(self) -> str:
        return str(self.card["kind"])

    @property
    def label(self) -> str:
        return str(self.card["run"].get("label") or "")

    @property
    def tta(self) -> Mapping[str, Any] | None:
        return self.card.get("tta")

    def thresholds(self, rule: Any = None) -> np.ndarray:
        """``(K,)`` thresholds for ``rule`` (see :func:`parse_threshold`; ``None``: the run's)."""
        return parse_threshold(rule, self.card)[1]

    def check_images(self, images: Any) -> np.ndarray:
        """``images`` as ``(n, C, R, R) uint8`` or a ``ValueError`` saying what was expected."""
        arr = np.asarray(images)
        want = (len(self.channels), self.resolution, self.resolution)
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != want:
            raise ValueError(
                f"expected uint8 images of shape (n, {want[0]}, {want[1]}, {want[2]}) (channels "
                f"{', '.join(self.channels)}), got {arr.dtype} {arr.shape}")
        return arr

    def predict_proba(self, images: Any, *, tta: bool = True, batch_size: int | None = None,
                      progress: bool = False) -> np.ndarray:
        """``(n, K) float`` probabilities of ``(n, C, R, R) uint8`` images (the run's TTA unless
        ``tta=False``)."""
        arr = self.check_images(images)
        size = int(batch_size or self.batch_size)
        return self.predict_batches((arr[i:i + size] for i in range(0, len(arr), size)), tta=tta,
                                    progress=progress)

    def predict_batches(self, batches: Iterable[np.ndarray], *, tta: bool = True, progress: bool = False) -> np.ndarray:
        """Probabilities of a stream of ``(b, C, R, R) uint8`` batches, concatenated ``(n, K)``.
        Random TTA draws from one generator seeded with the run's seed across the stream, as the
        run's own evaluation did over its batches."""
        return self._predict(batches, tta=tta, progress=progress)

    def predict(self, images: Any, threshold: Any = None, **kwargs: Any) -> np.ndarray:
        """``(n, K) bool`` labels with the project's threshold rule (``threshold``: see
        :meth:`thresholds`)."""
        from micro_bench_metrics.thresholds import apply_thresholds

        return apply_thresholds(self.predict_proba(images, **kwargs), self.thresholds(threshold))

    def __repr__(self) -> str:
        return (f"TrainedModel({self.card['model']['name']!r}, run={self.label!r}, {len(self.channels)}x"
                f"{self.resolution}x{self.resolution}, {len(self.classes)} classes, device={self.device!r})")


def _torch_predictor(card: Mapping[str, Any], weights: Path, regs: Mapping[str, Any], device: str,
                     threads: int | None) -> tuple[Callable[..., np.ndarray], int, str]:
    import torch

    from micro_bench_torch.inputs import DevicePipeline
    from micro_bench_torch.loops import predict_proba
    from micro_bench_torch.runtime import resolve_runtime

    model = card["model"]
    params = dict(model["params"])
    registry = regs["model"]
    if "pretrained" in params or registry.accepts(model["name"], "pretrained"):
        params["pretrained"] = False  # the saved weights replace any initialisation
    try:
        net = registry.create(model["name"], **params, num_classes=model["num_classes"], in_chans=model["in_chans"])
        state = torch.load(weights, map_location="cpu", weights_only=True)
        keys = net.load_state_dict(state["model"], strict=False)
    except Exception as error:  # noqa: BLE001 - one message for any failure
        detail = " ".join(str(error).split())[:300]
        raise ModelCardError(f"{weights}: cannot rebuild model {model['name']!r} from its model.json "
                             f"({type(error).__name__}: {detail})") from error
    if keys.missing_keys or keys.unexpected_keys:
        raise ModelCardError(
            f"{weights}: the installed {model['name']!r} is not the architecture this run trained "
            f"({len(keys.missing_keys)} weights missing, e.g. {keys.missing_keys[:2]}; "
            f"{len(keys.unexpected_keys)} unexpected, e.g. {keys.unexpected_keys[:2]}); a default of the "
            "model factory probably changed since: rerun the row with --force")
    trainer = card["trainer"]["params"]
    rt = resolve_runtime(device, bool(trainer.get("amp", True)), trainer.get("channels_last", "auto"), threads)
    rt.model(net)
    net.eval()
    tta_policy = transform = None
    if card.get("tta"):
        tta_policy = regs["tta"].create(card["tta"]["name"], **card["tta"]["params"])
        if card.get("transform"):
            transform = regs["transform"].create(card["transform"]["name"], **card["transform"]["params"])
    pipeline = DevicePipeline(rt.device, card["statistics"]["mean"], card["statistics"]["std"],
                              transform=transform, channels_last=rt.channels_last)
    seed = int(card["run"].get("seed") or 0)

    def tensors(batches: Iterable[np.ndarray]) -> Iterator[tuple[Any, None]]:
        # uint8 batches, turned into model inputs on the device as in the run's evaluation
        for batch in batches:
            yield torch.from_numpy(np.ascontiguousarray(batch)), None

    def run(batches: Iterable[np.ndarray], *, tta: bool = True, progress: bool = False) -> np.ndarray:
        with rt.threads_set():
            # predict_proba iterates its loader once: a stream of (x, None) batches serves.
            out = predict_proba(net, cast(Any, tensors(batches)), rt, pipeline, tta=tta_policy if tta else None,
                                seed=seed, progress=progress)
        return out.reshape(-1, model["num_classes"])

    return run, int(trainer.get("batch_size", 64)), str(rt.device)


class _ArrayImages:
    """The slice of the Dataset contract the ``sklearn`` trainer's predict reads, over an array."""

    def __init__(self, images: np.ndarray, classes: list[str]) -> None:
        self._images, self.classes = images, classes

    def images(self, indices: Any = None) -> Any:
        import dask.array as da

        arr = da.from_array(self._images, chunks=(256, *self._images.shape[1:]))
        return arr if indices is None else arr[np.asarray(indices)]


def _sklearn_predictor(card: Mapping[str, Any], weights: Path, regs: Mapping[str, Any]) -> tuple[Callable[..., np.ndarray], int, str]:
    from micro_bench import RunContext
    from micro_bench_baselines.persist import load_estimator

    try:
        estimator = load_estimator(weights)
    except Exception as error:  # noqa: BLE001 - untrusted or unreadable: one message
        raise ModelCardError(f"{weights}: cannot load the estimator ({type(error).__name__}: {error})") from error
    trainer = regs["trainer"].create(card["trainer"]["name"], **card["trainer"]["params"])
    trainer._stats = (np.asarray(card["statistics"]["mean"], np.float64), np.asarray(card["statistics"]["std"], np.float64))
    context = RunContext(directory=weights.parent.parent, log=lambda line: None, progress=False)
    classes = list(card["classes"])

    def run(batches: Iterable[np.ndarray], *, tta: bool = True, progress: bool = False) -> np.ndarray:
        out = [trainer.predict(estimator, _ArrayImages(b, classes), np.arange(len(b)), tta=None, context=context)
               for b in batches if len(b)]
        return np.concatenate(out) if out else np.zeros((0, len(classes)))

    return run, 1024, "cpu"


def load_trained(run_dir: str | Path, *, device: str = "auto", threads: int | None = None,
                 registries: Mapping[str, Any] | None = None) -> TrainedModel:
    """Load the model of the finished run in ``run_dir`` (``runs/<benchmark>/<key>``).

    Args:
        run_dir: the run's folder (holding ``checkpoints/model.json``).
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        threads: CPU intra-op threads while predicting (``None``: torch's default).
        registries: component registries (default: those of a freshly loaded ``Host``).

    Raises:
        ModelCardError: no model, an older format version, changed weights, or an architecture
            the installed plugins cannot rebuild.
    """
    directory = Path(run_dir)
    card = read_card(directory)
    if registries is None:
        from micro_bench.host import Host

        registries = Host.load().registries
    weights = directory / "checkpoints" / card["weights"]["file"]
    if card["kind"] == "torch":
        fn, batch, dev = _torch_predictor(card, weights, registries, device, threads)
    elif card["kind"] == "sklearn":
        fn, batch, dev = _sklearn_predictor(card, weights, registries)
    else:
        raise ModelCardError(f"{directory}: model kind {card['kind']!r} is not one this micro-bench can load")
    return TrainedModel(card, directory, fn, batch, dev)
