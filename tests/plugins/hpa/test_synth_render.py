"""hpa_synth rendering: determinism, shapes, per-class patterns where the design puts them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_bench_hpa.synth import render
from micro_bench_hpa.synth.render import render_sample
from micro_bench_hpa.synth.scene import Scene, draw_cells

R = 64
NUCLEAR = (0, 2, 3, 4, 5)
CYTOPLASMIC = (6, 7, 8, 9, 10, 11, 20, 23, 24, 25, 26, 27)


def one_hot(*classes: int) -> np.ndarray:
    out = np.zeros(28, dtype=bool)
    out[list(classes)] = True
    return out


def scene_of(seed: int, index: int, resolution: int = R) -> Scene:
    return Scene(draw_cells(render._rng(seed, index, render._CELLS)), resolution)


def green_diff(k: int, seed: int, index: int) -> np.ndarray:
    """Green of a sample with class ``k`` minus the same sample with no label, difficulty 0."""
    with_k = render_sample(one_hot(k), resolution=R, seed=seed, index=index, difficulty=0.0)
    without = render_sample(one_hot(), resolution=R, seed=seed, index=index, difficulty=0.0)
    return with_k[1].astype(float) - without[1].astype(float)


def test_same_seed_same_bytes_different_seed_differs() -> None:
    labels = one_hot(0, 25)
    a = render_sample(labels, resolution=R, seed=7, index=3)
    assert a.shape == (4, R, R) and a.dtype == np.uint8
    assert a.tobytes() == render_sample(labels, resolution=R, seed=7, index=3).tobytes()
    assert a.tobytes() != render_sample(labels, resolution=R, seed=8, index=3).tobytes()
    assert a.tobytes() != render_sample(labels, resolution=R, seed=7, index=4).tobytes()


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), index=st.integers(0, 10**6),
       labels=st.lists(st.booleans(), min_size=28, max_size=28), d=st.floats(0, 1))
def test_landmarks_do_not_depend_on_labels(seed: int, index: int, labels: list[bool], d: float) -> None:
    a = render_sample(np.array(labels), resolution=32, seed=seed, index=index, difficulty=d)
    b = render_sample(one_hot(), resolution=32, seed=seed, index=index, difficulty=d)
    assert a.shape == (4, 32, 32) and a.dtype == np.uint8
    assert np.array_equal(a[[0, 2, 3]], b[[0, 2, 3]])  # red, blue, yellow


@pytest.mark.parametrize("k", range(28))
def test_every_class_changes_green(k: int) -> None:
    diffs = [green_diff(k, seed=1, index=i) for i in range(3)]
    assert all(np.abs(d).sum() > 100 for d in diffs), [np.abs(d).sum() for d in diffs]


@pytest.mark.parametrize("k", NUCLEAR)
def test_nuclear_classes_are_inside_nuclei(k: int) -> None:
    for i in range(3):
        pos = np.clip(green_diff(k, seed=2, index=i), 0, None)
        nucleus = scene_of(2, i).nucleus > 0.5
        assert pos[nucleus].sum() > 0.7 * pos.sum()


@pytest.mark.parametrize("k", CYTOPLASMIC)
def test_cytoplasmic_classes_are_outside_nuclei(k: int) -> None:
    for i in range(3):
        pos = np.clip(green_diff(k, seed=2, index=i), 0, None)
        sc = scene_of(2, i)
        assert pos[sc.cyto > 0.5].sum() > 0.6 * pos.sum()


def test_nuclear_membrane_is_a_ring_on_the_nuclear_edge() -> None:
    for i in range(3):
        d, sc = green_diff(1, seed=3, index=i), scene_of(3, i)
        edge = np.abs(sc.nrho - 1.0) < 0.2
        inner = sc.nrho < 0.5
        assert d[edge].mean() > 3 * max(d[inner].mean(), 1.0)


def test_plasma_membrane_is_on_cell_borders() -> None:
    for i in range(3):
        d, sc = green_diff(21, seed=3, index=i), scene_of(3, i)
        border = (np.minimum(sc.edge_out, sc.edge_nb) < 1.0) & (sc.cell > 0.5)
        interior = np.minimum(sc.edge_out, sc.edge_nb) > 4.0
        assert d[border].mean() > 3 * max(d[interior].mean(), 1.0)


@pytest.mark.parametrize(("k", "channel"), [(14, 0), (6, 3)])
def test_microtubules_follow_red_and_er_follows_yellow(k: int, channel: int) -> None:
    img = render_sample(one_hot(k), resolution=R, seed=4, index=0, difficulty=0.0).astype(float)
    d = green_diff(k, seed=4, index=0)
    assert np.corrcoef(d.ravel(), img[channel].ravel())[0, 1] > 0.6


def test_difficulty_raises_background_noise() -> None:
    def background_std(d: float) -> float:
        img = render_sample(one_hot(0), resolution=R, seed=5, index=0, difficulty=d)
        return float(img[:, scene_of(5, 0).label == scene_of(5, 0).cells.n].std())

    low, high = background_std(0.0), background_std(1.0)
    assert high > 2 * low


def test_resolutions_show_the_same_scene() -> None:
    big = render_sample(one_hot(0, 23), resolution=256, seed=6, index=1, difficulty=0.0).astype(float)
    small = render_sample(one_hot(0, 23), resolution=64, seed=6, index=1, difficulty=0.0).astype(float)
    down = big.reshape(4, 64, 4, 64, 4).mean(axis=(2, 4))
    for c in range(4):
        assert np.corrcoef(down[c].ravel(), small[c].ravel())[0, 1] > 0.8
        assert abs(down[c].mean() - small[c].mean()) < 0.15 * down[c].mean() + 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="difficulty"):
        render_sample(one_hot(0), resolution=R, seed=0, index=0, difficulty=1.5)
    with pytest.raises(ValueError, match=r"\(28,\) bool"):
        render_sample(np.zeros(5, bool), resolution=R, seed=0, index=0)
