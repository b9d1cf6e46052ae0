"""A finished run's model, loaded back for prediction: :func:`load_trained` -> :class:`TrainedModel`.

Works for every trainer that implements the optional ``save``/``load`` pair (docs/hooks.md),
bundled or not: the run's trainer and model are rebuilt from ``model/model.json`` (the model with
``pretrained: false``), ``trainer.load(model folder, model)`` restores what the run's ``save``
wrote, and ``TrainedModel.predict_proba(images)`` calls ``trainer.predict`` on the images as the
run called it on its evaluation split: same TTA policy, transform and seed, so the probabilities
equal the run's own. Images are ``(n, C, R, R) uint8`` in the run's channel order and resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_predict.card import ModelCardError, check_card_fits, model_folder, read_card
from micro_bench_predict.rules import parse_threshold

__all__ = ["ImageArray", "TrainedModel", "load_trained", "parse_threshold"]


class ImageArray:
    """The Dataset contract over in-memory ``(n, C, R, R) uint8`` images (what ``trainer.predict``
    reads: ``classes``, ``channels``, ``resolution``, ``ids``, ``labels`` (all False), lazy ``images``)."""

    def __init__(self, images: np.ndarray, classes: list[str], channels: list[str]) -> None:
        self._images = images
        self.classes, self.channels = list(classes), list(channels)
        self.resolution = int(images.shape[-1])
        self.ids = [str(i) for i in range(len(images))]
        self.labels = np.zeros((len(images), len(self.classes)), dtype=bool)
        self.fingerprint = ""

    def images(self, indices: Any = None) -> Any:
        import dask.array as da

        arr = da.from_array(self._images, chunks=(256, *self._images.shape[1:]))
        return arr if indices is None else arr[np.asarray(indices)]

    def __len__(self) -> int:
        return len(self._images)


class TrainedModel:
    """A run's trained model with its preprocessing (see the module docstring).

    Attributes:
        card: the run's ``model.json``; directory: the run folder.
        trainer: the run's trainer, rebuilt and loaded; model: the trained model it returned.
        classes: K class names; channels: C channel names in input order; resolution: R.
        mean, std: ``(C,)`` train-split statistics on the 0-255 scale (``None`` when the run's
            trainer recorded none).
        batch_size: default images per prediction call (the run's trainer's ``batch_size``).
        device: the ``device`` asked for (the trainer's own when it takes no ``device``).
    """

    def __init__(self, card: Mapping[str, Any], directory: Path, trainer: Any, model: Any,
                 components: Mapping[str, Any], batch_size: int, device: str) -> None:
        self.card = dict(card)
        self.directory = Path(directory)
        self.trainer, self.model = trainer, model
        self.classes: list[str] = list(card["classes"])
        self.channels: list[str] = list(card["input"]["channels"])
        self.resolution = int(card["input"]["resolution"])
        stats = card.get("statistics")
        self.mean = None if not stats else np.asarray(stats["mean"], dtype=np.float64)
        self.std = None if not stats else np.asarray(stats["std"], dtype=np.float64)
        self.batch_size = int(batch_size)
        self.device = device
        self._tta, self._transform = components.get("tta"), components.get("transform")

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
        """``images`` as ``(n, C, R, R) uint8`` (the card's ``input.dtype``: ``uint16`` for a run
        on a 16-bit store) or a ``ValueError`` saying what was expected."""
        arr = np.asarray(images)
        want = (len(self.channels), self.resolution, self.resolution)
        dtype = str(self.card["input"].get("dtype", "uint8"))
        if arr.dtype != np.dtype(dtype) or arr.ndim != 4 or arr.shape[1:] != want:
            raise ValueError(
                f"expected {dtype} images of shape (n, {want[0]}, {want[1]}, {want[2]}) (channels "
                f"{', '.join(self.channels)}), got {arr.dtype} {arr.shape}")
        return arr

    def predict_proba(self, images: Any, *, tta: bool = True, batch_size: int | None = None,
                      progress: bool = False) -> np.ndarray:
        """``(n, K) float`` probabilities of ``(n, C, R, R) uint8`` images (the run's TTA unless
        ``tta=False``)."""
        arr = self.check_images(images)
        if batch_size is None:  # one call: the trainer batches as the run's evaluation did
            return self.predict_batches([arr], tta=tta, progress=progress)
        size = int(batch_size)
        return self.predict_batches((arr[i:i + size] for i in range(0, len(arr), size)), tta=tta,
                                    progress=progress)

    def predict_dataset(self, dataset: Any, indices: Any, *, tta: bool = True, progress: bool = False) -> np.ndarray:
        """``(len(indices), K)`` probabilities of samples of a Dataset (the run's own call of
        ``trainer.predict``: on the run's data and split, the run's evaluation exactly)."""
        from micro_bench import RunContext

        context = RunContext(directory=self.directory, seed=int(self.card["run"].get("seed") or 0),
                             label=self.label, log=lambda line: None, progress=progress)
        out = self.trainer.predict(self.model, dataset, np.asarray(indices), tta=self._tta if tta else None,
                                   transform=self._transform, context=context)
        from micro_bench.evaluate import check_probabilities

        return check_probabilities(out, len(indices), self.classes, f"trainer {type(self.trainer).__name__} of {self.label!r}")

    def predict_batches(self, batches: Iterable[np.ndarray], *, tta: bool = True, progress: bool = False) -> np.ndarray:
        """Probabilities of a stream of ``(b, C, R, R) uint8`` batches, concatenated ``(n, K)``;
        one ``trainer.predict`` call per batch (random TTA views are drawn per call, from the
        run's seed)."""
        out = [self.predict_dataset(ImageArray(np.asarray(b), self.classes, self.channels), np.arange(len(b)),
                                    tta=tta, progress=progress) for b in batches if len(b)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)))

    def predict(self, images: Any, threshold: Any = None, **kwargs: Any) -> np.ndarray:
        """``(n, K) bool`` labels with the project's threshold rule (``threshold``: see
        :meth:`thresholds`)."""
        from micro_bench_metrics.thresholds import apply_thresholds

        return apply_thresholds(self.predict_proba(images, **kwargs), self.thresholds(threshold))

    def __repr__(self) -> str:
        return (f"TrainedModel({self.card['model']['name']!r}, trainer={self.kind!r}, run={self.label!r}, {len(self.channels)}x"
                f"{self.resolution}x{self.resolution}, {len(self.classes)} classes, device={self.device!r})")


def _create(registries: Mapping[str, Any], kind: str, comp: Mapping[str, Any] | None, **extra: Any) -> Any:
    if not comp:
        return None
    registry = registries[kind]
    params = dict(comp["params"])
    params.update({k: v for k, v in extra.items() if registry.accepts(comp["name"], k)})
    return registry.create(comp["name"], **params)


def _torch_shape(model: Any, channels: int, side: int, in_chans: int) -> tuple[int | None, int | None]:
    """Outputs per image and input channels of a torch module, from one forward pass on the meta
    device (shapes only: no memory, no arithmetic; the module itself is untouched)."""
    import torch
    from torch.func import functional_call

    state = {name: torch.empty_like(t, device="meta")
             for name, t in [*model.named_parameters(), *model.named_buffers()]}

    def width(c: int) -> int | None:
        with torch.no_grad():
            out = functional_call(model, state, (torch.empty(1, c, side, side, device="meta"),))
        return int(out.shape[-1]) if isinstance(out, torch.Tensor) and out.ndim == 2 else None

    training = model.training
    model.eval()
    try:
        try:
            return width(channels), channels
        except Exception:  # noqa: BLE001 - the card's channel count does not fit; try the model's own
            if in_chans == channels:
                return None, None
            try:
                return width(in_chans), in_chans
            except Exception:  # noqa: BLE001 - an op without a meta kernel: not known here
                return None, None
    finally:
        model.train(training)


def model_shape(trainer: Any, model: Any, card: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """``(outputs per image, input channels)`` of a loaded model where they are cheap and reliable to
    find (``None``: not known): a torch module by a forward pass on the meta device; a fitted
    scikit-learn estimator by ``predict_proba`` of one zero feature row (``n_features_in_``) and,
    with the trainer's pixel ``resolution``, its channel count."""
    import sys

    channels, side = len(card["input"]["channels"]), int(card["input"]["resolution"])
    torch = sys.modules.get("torch")  # a torch module exists only when torch was imported
    if torch is not None and isinstance(model, torch.nn.Module):
        in_chans = card["model"].get("in_chans")
        return _torch_shape(model, channels, side, in_chans if isinstance(in_chans, int) else channels)
    features = getattr(model, "n_features_in_", None)
    if not isinstance(features, int) or not callable(getattr(model, "predict_proba", None)):
        return None, None
    try:
        proba = np.asarray(model.predict_proba(np.zeros((1, features), np.float32)))
        outputs = int(proba.shape[1]) if proba.ndim == 2 else None
    except Exception:  # noqa: BLE001 - not known here; the prediction's own shape check still applies
        outputs = None
    res = getattr(trainer, "resolution", None)
    taken = features // (res * res) if isinstance(res, int) and res > 0 and features % (res * res) == 0 else None
    return outputs, taken


def load_trained(run_dir: str | Path, *, device: str = "auto", threads: int | None = None,
                 registries: Mapping[str, Any] | None = None) -> TrainedModel:
    """Load the model of the finished run in ``run_dir`` (``runs/<benchmark>/<key>``).

    Args:
        run_dir: the run's folder (holding ``model/model.json``).
        device: passed to the run's trainer when its factory takes ``device`` (the bundled torch
            trainer: ``"auto"`` = CUDA when present, ``"cpu"``, ``"cuda:1"``...).
        threads: likewise, the trainer's ``threads`` (CPU intra-op threads; ``None``: its default).
        registries: component registries (default: those of a freshly loaded ``Host``).

    Raises:
        ModelCardError: no model, an older format version, changed files, a trainer without
            ``load``, a model the installed plugins cannot rebuild, or a card whose class (or
            channel) list does not fit the loaded model (:func:`check_card_fits`).
    """
    directory = Path(run_dir)
    card = read_card(directory)
    if registries is None:
        from micro_bench.host import Host

        registries = Host.load().registries
    spec = card["trainer"]
    try:
        trainer = _create(registries, "trainer", spec, device=device, threads=threads)
    except Exception as error:  # noqa: BLE001 - one message for any failure
        raise ModelCardError(f"{directory}: cannot rebuild trainer {spec['name']!r} from its model.json "
                             f"({type(error).__name__}: {error})") from error
    if not callable(getattr(trainer, "load", None)):
        raise ModelCardError(f"trainer {spec['name']!r} cannot load a saved model (it has no load method; "
                             "see docs/writing-plugins.md)")
    model = card["model"]
    params = dict(model["params"])
    if "pretrained" in params or registries["model"].accepts(model["name"], "pretrained"):
        params["pretrained"] = False  # the saved weights replace any initialisation
    try:
        fresh = registries["model"].create(model["name"], **params, num_classes=model["num_classes"],
                                           in_chans=model["in_chans"])
        loaded = trainer.load(model_folder(directory), fresh)
    except Exception as error:  # noqa: BLE001 - one message for any failure
        detail = " ".join(str(error).split())[:300]
        raise ModelCardError(f"{directory}: cannot rebuild model {model['name']!r} with trainer {spec['name']!r}: "
                             f"{type(error).__name__}: {detail}; if the installed {model['name']!r} is not the "
                             "architecture this run trained (a default of the model factory changed), rerun the "
                             "row with --force") from error
    check_card_fits(directory, card, *model_shape(trainer, loaded, card))
    components = {"tta": _create(registries, "tta", card.get("tta")) if card.get("tta") else None}
    components["transform"] = _create(registries, "transform", card.get("transform")) if components["tta"] else None
    batch = getattr(trainer, "batch_size", None)
    return TrainedModel(card, directory, trainer, loaded, components,
                        int(batch) if isinstance(batch, int) and batch > 0 else 256, device)
