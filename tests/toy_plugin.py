"""In-test components: a tiny numpy dataset, a prevalence model and trainer, a metric.

Test fixtures, not bundled features: they let the core be tested end to end without torch.
"""

from __future__ import annotations

import hashlib

import numpy as np

from micro_bench import ComponentSpec, hookimpl

#: The toy benchmark the runner, CLI, config and export tests share (the ``toy_bench`` fixture
#: writes it with :data:`TOY_REF`); a test derives a variant with ``str.replace``.
TOY_BENCH = """\
version: 1
name: toybench
title: Toy table
seed: 3
dataset: {name: toy, n: 40}
model: prevalence
trainer: {name: toy_trainer, epochs: 2}
transform: null
evaluate: {split: test, threshold: 0.5}
metrics: [mean_score, accuracy]
reference: ref.csv
runs:
  - {label: quiet, model: {noise: 0.0}}
  - {label: noisy, model: {noise: 0.5}}
"""
#: The "paper's numbers" of :data:`TOY_BENCH` (``ref.csv`` beside it).
TOY_REF = "label,mean_score,accuracy\nquiet,0.25,0.5\nnoisy,0.5,0.75\n"

CALLS = {"fit": 0}


class ToyDataset:
    classes = ("a", "b", "c")
    channels = ("red", "green")
    resolution = 4

    def __init__(self, n: int = 30, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.ids = [f"id{i}" for i in range(n)]
        self.labels = rng.random((n, 3)) < np.array([0.5, 0.3, 0.1])
        self._images = rng.integers(0, 255, (n, 2, 4, 4), dtype=np.uint8)
        self.fingerprint = hashlib.sha256(self.labels.tobytes() + self._images.tobytes()).hexdigest()[:16]

    def split_indices(self, part, *, fractions=(0.8, 0.1, 0.1), seed=0):
        order = np.random.default_rng(seed).permutation(len(self.ids))
        n_train = int(round(fractions[0] * len(order)))
        n_val = int(round(fractions[1] * len(order)))
        parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
        return np.sort(parts[part])

    def images(self, indices=None):
        return self._images if indices is None else self._images[indices]

    def channel_stats(self, indices):
        pixels = self._images[np.asarray(indices)]
        return pixels.mean(axis=(0, 2, 3)), pixels.std(axis=(0, 2, 3))

    def torch_dataset(self, indices, *, augment, mean, std, seed=0):  # pragma: no cover - unused
        raise NotImplementedError("toy dataset has no torch path")

    def describe(self):
        return {"name": "toy", "n": len(self.ids), "resolution": 4}


class PrevalenceModel:
    """Predicts each class's training prevalence, plus a little seeded noise."""

    def __init__(self, num_classes: int, in_chans: int, noise: float = 0.1, seed: int | None = None) -> None:
        self.num_classes, self.noise, self.prevalence, self.seed = num_classes, noise, None, seed


class ToyTrainer:
    def __init__(self, epochs: int = 2) -> None:
        self.epochs = epochs

    def fit(self, model, dataset, split, *, loss, schedule, transform, context):
        CALLS["fit"] += 1
        model.prevalence = split.labels("train").mean(axis=0)
        for epoch in range(self.epochs):
            context.epoch_end(epoch, {"train_loss": 1.0 / (epoch + 1)})
        context.log("toy fit done")
        return {"train_loss": [1.0 / (e + 1) for e in range(self.epochs)]}

    def predict(self, model, dataset, indices, *, tta, transform, context):
        rng = np.random.default_rng(context.seed)
        noise = rng.random((len(indices), model.num_classes)) * model.noise
        return np.clip(model.prevalence[None, :] + noise, 0, 1)


def mean_score(y_true, y_score, y_pred):
    return float(np.mean(y_score))


def accuracy(y_true, y_score, y_pred):
    return float(np.mean(y_true == y_pred))


def per_class_positives(y_true, y_score, y_pred):
    return {str(k): float(v) for k, v in enumerate(y_pred.sum(axis=0))}


class MedianRule:
    """A third-party threshold rule: per class, the median validation score."""

    description = "per class, the median validation score"

    def fit(self, y_true, y_score):
        return np.median(y_score, axis=0)


@hookimpl
def micro_bench_threshold_rules():
    return [ComponentSpec("median", MedianRule, "Per-class median of the validation scores")]


@hookimpl
def micro_bench_datasets():
    return [ComponentSpec("toy", ToyDataset, "A tiny numpy dataset")]


@hookimpl
def micro_bench_models():
    return [ComponentSpec("prevalence", PrevalenceModel, "Predicts class prevalence")]


@hookimpl
def micro_bench_trainers():
    return [ComponentSpec("toy_trainer", ToyTrainer, "Fits prevalence")]


@hookimpl
def micro_bench_metrics():
    return [
        ComponentSpec("mean_score", lambda: mean_score, "Mean score"),
        ComponentSpec("accuracy", lambda: accuracy, "Element accuracy"),
        ComponentSpec("per_class_positives", lambda: per_class_positives, "Predicted positives",
                      {"per_class": True, "title": "positives", "reference": "positives"}),
    ]
