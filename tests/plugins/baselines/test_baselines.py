"""The sklearn trainer and baseline models on a tiny in-memory fake dataset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from micro_bench import RunContext, Split, StashKey
from micro_bench_baselines.features import pixel_features
from micro_bench_baselines.models import logreg, random_forest
from micro_bench_baselines.trainer import SklearnTrainer


class FakeDataset:
    """Numpy-backed dataset meeting :class:`micro_bench.components.Dataset`.

    Class k adds +120 to quadrant k of the green channel on top of noise, so every class is
    linearly separable. ``rare_class`` has no positives among the first ``n_train`` samples.
    """

    channels = ("red", "green", "blue", "yellow")

    def __init__(self, n: int = 80, k: int = 4, resolution: int = 16, n_train: int = 60, rare_class: int = 3, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.classes = [f"class{i}" for i in range(k)]
        self.ids = [f"s{i}" for i in range(n)]
        self.labels = rng.random((n, k)) < 0.4
        self.labels[:n_train, rare_class] = False
        self.labels[n_train:, rare_class] = np.arange(n - n_train) % 2 == 0
        self.resolution = resolution
        self.fingerprint = f"fake-{seed}"
        self.n_train = n_train
        img = rng.normal(60, 15, (n, 4, resolution, resolution))
        half = resolution // 2
        for c in range(k):
            r, q = divmod(c, 2)
            img[self.labels[:, c], 1, r * half:(r + 1) * half, q * half:(q + 1) * half] += 120
        self._pixels = np.clip(img, 0, 255).astype(np.uint8)

    def split_indices(self, part: str, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
        n = len(self.ids)
        bounds = {"train": (0, self.n_train), "val": (self.n_train, n), "test": (self.n_train, n)}
        return np.arange(*bounds[part], dtype=np.int64)

    def images(self, indices: np.ndarray | None = None) -> Any:
        import dask.array as da

        arr = da.from_array(self._pixels, chunks=(1, 4, self.resolution, self.resolution))
        return arr if indices is None else arr[np.asarray(indices)]

    def channel_stats(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        train = self._pixels[np.asarray(indices)].astype(np.float64)
        return train.mean(axis=(0, 2, 3)), train.std(axis=(0, 2, 3))

    def torch_dataset(self, indices: np.ndarray, *, augment: bool, mean: Any, std: Any, seed: int = 0) -> Any:
        raise NotImplementedError("not needed by the sklearn trainer")

    def describe(self) -> dict[str, Any]:
        return {"name": "fake", "n": len(self.ids), "resolution": self.resolution}


LINES = StashKey[list[str]]()


@pytest.fixture
def context(tmp_path: Any) -> RunContext:
    lines: list[str] = []
    ctx = RunContext(directory=tmp_path, seed=0, label="test", log=lines.append)
    ctx.stash[LINES] = lines
    return ctx


def test_pixel_features_equal_numpy_standardization() -> None:
    ds = FakeDataset()
    idx = np.array([3, 0, 7])
    mean, std = ds.channel_stats(np.arange(ds.n_train))
    x = pixel_features(ds, idx, mean, std, resolution=16)
    expected = ((ds._pixels[idx].astype(np.float32) - mean[None, :, None, None].astype(np.float32))
                / std[None, :, None, None].astype(np.float32)).reshape(3, -1)
    assert x.dtype == np.float32 and x.shape == (3, 4 * 16 * 16)
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-6)


def test_pixel_features_block_mean_downsampling() -> None:
    ds = FakeDataset(resolution=32)
    x = pixel_features(ds, np.array([1]), np.zeros(4), np.ones(4), resolution=16)
    expected = ds._pixels[1].astype(np.float32).reshape(4, 16, 2, 16, 2).mean(axis=(2, 4)).reshape(1, -1)
    np.testing.assert_allclose(x, expected, rtol=1e-6)


def test_resolution_that_does_not_divide_is_a_clear_error() -> None:
    from micro_bench.errors import ConfigError

    with pytest.raises(ConfigError, match="pools to 64 px, but the dataset's images are 16x16; set trainer.resolution "
                                          "to a divisor of 16 \\(e.g. 16\\)"):
        pixel_features(FakeDataset(), np.array([0]), np.zeros(4), np.ones(4), resolution=64)


@pytest.mark.parametrize(("make", "n_jobs"), [(lambda: logreg(C=1.0, num_classes=4, in_chans=4), 1),
                                             (lambda: logreg(C=1.0, num_classes=4, in_chans=4), 2),
                                             (lambda: random_forest(n_estimators=20, num_classes=4, in_chans=4), 2)])
def test_learns_separable_toy_and_handles_class_without_positives(make: Any, n_jobs: int, context: RunContext) -> None:
    ds = FakeDataset()
    trainer = SklearnTrainer(n_jobs=n_jobs, resolution=16)
    model = make()
    history = trainer.fit(model, ds, Split.of(ds), context=context)
    assert history["constant_classes"] == [3]
    assert any("class 3 (class3) has no positives" in line for line in context.stash[LINES])
    test = ds.split_indices("test")
    proba = trainer.predict(model, ds, test, tta=None, context=context)
    assert proba.shape == (len(test), 4) and proba.dtype == np.float64
    assert (proba >= 0).all() and (proba <= 1).all()
    np.testing.assert_array_equal(proba[:, 3], 0.0)  # never seen positive: all-negative
    for k in range(3):
        assert roc_auc_score(ds.labels[test, k], proba[:, k]) > 0.95


def test_logreg_matches_plain_sklearn_per_class(context: RunContext) -> None:
    ds = FakeDataset(rare_class=0)
    ds.labels[:, 0] = np.arange(len(ds.ids)) % 3 == 0  # give every class positives in train
    trainer = SklearnTrainer(n_jobs=1, resolution=16)
    train = ds.split_indices("train")
    x = pixel_features(ds, train, *ds.channel_stats(train), resolution=16)
    # liblinear: scikit-learn's default in 2018 (the paper's); lbfgs: today's.
    for solver in ("liblinear", "lbfgs"):
        model = logreg(C=0.1, num_classes=4, in_chans=4, solver=solver)
        history = trainer.fit(model, ds, Split.of(ds), context=context)
        plain = LogisticRegression(C=0.1, solver=solver, max_iter=100).fit(x, ds.labels[train, 1])
        ours = trainer.predict(model, ds, train, tta=None, context=context)[:, 1]
        np.testing.assert_allclose(ours, plain.predict_proba(x)[:, 1], atol=1e-6)
        assert history["solver"] == solver and history["max_iter"] == 100
        assert history["n_iter"][1] == int(np.max(plain.n_iter_)) and len(history["n_iter"]) == 4
        assert history["converged"] == all(n < 100 for n in history["n_iter"])
    with pytest.raises(ValueError, match="logreg: solver must be one of"):
        logreg(num_classes=4, in_chans=4, solver="adam")


def test_model_factories_validate_parameters() -> None:
    with pytest.raises(ValueError, match="logreg: C must be > 0"):
        logreg(C=0, num_classes=28, in_chans=4)
    with pytest.raises(ValueError, match="random_forest: n_estimators and min_samples_leaf must be >= 1"):
        random_forest(min_samples_leaf=0, num_classes=28, in_chans=4)
    forest = random_forest(n_estimators=10, min_samples_leaf=10, num_classes=28, in_chans=4, seed=3).estimator
    assert (forest.n_estimators, forest.min_samples_leaf, forest.criterion, forest.random_state) == (10, 10, "gini", 3)


def test_predict_before_fit_is_an_error(context: RunContext) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        SklearnTrainer().predict(logreg(num_classes=4, in_chans=4), FakeDataset(), np.array([0]), context=context)
