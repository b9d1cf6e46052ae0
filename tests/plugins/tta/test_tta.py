"""Tests of the bundled test-time augmentation policies."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_bench_transforms.fastai import FastaiAugment
from micro_bench_tta.dihedral import Flips, dihedral_views
from micro_bench_tta.identity import NoTTA
from micro_bench_tta.plugin import micro_bench_tta_policies
from micro_bench_tta.random_views import RandomViews
from micro_bench_tta.reduce import reduce_views

torch.set_num_threads(1)


def _batch(b: int = 3, c: int = 4, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(seed))


def _numpy_d4(image: np.ndarray) -> list[np.ndarray]:
    """The 8 dihedral images of ``(..., H, W)`` by numpy, an independent reference."""
    rotations = [np.rot90(image, k, axes=(-2, -1)) for k in range(4)]
    return rotations + [np.flip(r, axis=-1) for r in rotations]


def test_none_yields_the_batch() -> None:
    batch = _batch()
    views = list(NoTTA().views(batch))
    assert len(views) == 1 and views[0] is batch
    probs = torch.rand(1, 3, 5)
    assert torch.equal(NoTTA().reduce(probs), probs[0])


def test_flips_are_the_8_distinct_dihedral_views() -> None:
    batch = _batch(b=2, c=4, h=32, w=32)
    views = list(Flips().views(batch))
    assert len(views) == 8 and views[0] is batch
    assert all(v.shape == batch.shape and v.dtype == batch.dtype for v in views)
    for a, b in itertools.combinations(views, 2):
        assert not torch.equal(a, b)
    for got, want in zip(views, _numpy_d4(batch.numpy()), strict=True):
        np.testing.assert_array_equal(got.numpy(), want)  # exact: pure pixel permutations
    # a group: rotating or flipping any view gives a view again
    as_bytes = {v.contiguous().numpy().tobytes() for v in views}
    for v in views:
        assert torch.rot90(v, 1, dims=(-2, -1)).contiguous().numpy().tobytes() in as_bytes
        assert v.flip(-2).contiguous().numpy().tobytes() in as_bytes


def test_flips_rectangular_images() -> None:
    shapes = [tuple(v.shape) for v in dihedral_views(torch.zeros(1, 2, 4, 6))]
    assert shapes == [(1, 2, 4, 6), (1, 2, 6, 4)] * 2 + [(1, 2, 4, 6), (1, 2, 6, 4)] * 2


@pytest.mark.parametrize("how", ["mean", "max"])
def test_rotation_invariant_model_unchanged_by_flips(how: str) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 6),
                                torch.nn.Sigmoid()).double()
    batch = _batch(b=5).double()
    policy = Flips(reduce=how)
    with torch.no_grad():
        probs = torch.stack([model(view) for view in policy.views(batch)])
        torch.testing.assert_close(policy.reduce(probs), model(batch), rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 9), st.integers(1, 4), st.integers(1, 5), st.sampled_from(["mean", "max"]),
       st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_reductions_match_torch(v: int, b: int, k: int, how: str, blend: float | None) -> None:
    probs = torch.rand(v, b, k, generator=torch.Generator().manual_seed(v * 100 + b * 10 + k), dtype=torch.float64)
    got = Flips(reduce=how, blend=blend).reduce(probs)
    rest = probs if blend is None else probs[1:]
    if rest.shape[0] == 0:
        expected = probs[0]
    else:
        reduced = torch.mean(rest, dim=0) if how == "mean" else torch.max(rest, dim=0).values
        expected = reduced if blend is None else blend * probs[0] + (1 - blend) * reduced
    assert got.shape == (b, k)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    assert float(got.min()) >= 0.0 and float(got.max()) <= 1.0


def test_blend_values_and_numpy_input() -> None:
    probs = np.array([[[0.2, 0.9]], [[0.6, 0.1]], [[1.0, 0.3]]])  # (V=3, B=1, K=2)
    np.testing.assert_allclose(reduce_views(torch.from_numpy(probs), "mean", 0.5).numpy(),
                               [[0.5 * 0.2 + 0.5 * 0.8, 0.5 * 0.9 + 0.5 * 0.2]])
    np.testing.assert_allclose(Flips(reduce="max", blend=0.25).reduce(probs),
                               [[0.25 * 0.2 + 0.75 * 1.0, 0.25 * 0.9 + 0.75 * 0.3]])
    np.testing.assert_allclose(Flips(blend=1.0).reduce(probs), probs[0])
    np.testing.assert_allclose(Flips().reduce(probs), probs.mean(axis=0))
    assert isinstance(Flips().reduce(probs), np.ndarray)


def test_random_views_are_the_plain_batch_then_n_training_augmentations() -> None:
    batch = _batch(b=4, h=40, w=40).sigmoid()  # 0-1 scale, as the trainer hands it over
    transform = FastaiAugment()
    policy = RandomViews(n=4, seed=7)
    views = list(policy.views(batch, transform=transform))
    assert len(views) == 5 and views[0] is batch  # fastai 0.7 learn.TTA: original + n_aug=4
    assert all(v.shape == batch.shape and v.dtype == batch.dtype for v in views)
    for a, b in itertools.combinations(views, 2):
        assert not torch.equal(a, b)
    # each view is exactly what the transform gives a training batch, draw after draw
    generator = torch.Generator().manual_seed(7)
    for view in views[1:]:
        assert torch.equal(view, transform(batch, generator=generator))
    again = list(RandomViews(n=4, seed=7).views(batch, transform=transform))
    assert all(torch.equal(a, b) for a, b in zip(views, again, strict=True))
    other = list(RandomViews(n=4, seed=8).views(batch, transform=transform))
    assert not torch.equal(views[1], other[1])
    with pytest.raises(ValueError, match="tta 'random'.*transform"):
        list(policy.views(batch))


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [(Flips, {"reduce": "median"}, "flips.*reduce"), (Flips, {"blend": 1.5}, "blend"),
     (RandomViews, {"n": 0}, "random.*n must"), (RandomViews, {"seed": 1.5}, "seed")],
)
def test_bad_parameters(factory: type, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\).*\(4, 8, 8\)"):
        list(Flips().views(torch.zeros(4, 8, 8)))
    with pytest.raises(ValueError, match=r"\(V, B, K\).*\(3, 5\)"):
        Flips().reduce(torch.zeros(3, 5))


def test_plugin_specs() -> None:
    specs = {spec.name: spec.factory for spec in micro_bench_tta_policies()}
    assert specs == {
        "none": "micro_bench_tta.identity:NoTTA",
        "flips": "micro_bench_tta.dihedral:Flips",
        "random": "micro_bench_tta.random_views:RandomViews",
    }


def test_plugin_module_imports_no_torch() -> None:
    code = "import sys, micro_bench_tta.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
