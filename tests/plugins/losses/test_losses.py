"""Tests of the bundled losses: one focal formula, pinned against torch and torchvision."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torchvision.ops import sigmoid_focal_loss

from micro_bench_losses.focal import FocalLoss, bce, focal_loss
from micro_bench_losses.plugin import micro_bench_losses

torch.set_num_threads(1)

_SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6)
_GAMMA = st.floats(0.0, 5.0)
_POS_GAMMA = st.floats(0.05, 5.0)


@st.composite
def batches(draw: st.DrawFn, bound: float = 30.0, soft: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (B, K) float64, targets (B, K) float64)``; targets in {0, 1} unless ``soft``."""
    shape = draw(_SHAPES)
    logits = draw(hnp.arrays(np.float64, shape, elements=st.floats(-bound, bound)))
    if soft:
        targets = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0)))
    else:
        targets = draw(hnp.arrays(np.bool_, shape)).astype(np.float64)
    return torch.from_numpy(logits), torch.from_numpy(targets)


@settings(max_examples=60, deadline=None)
@given(batches(soft=True))
def test_focal_gamma_zero_is_bce(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, targets = batch
    expected = F.binary_cross_entropy_with_logits(logits, targets)
    assert torch.equal(FocalLoss(gamma=0)(logits, targets), bce()(logits, targets))
    torch.testing.assert_close(bce()(logits, targets), expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(batches(), _GAMMA)
def test_focal_matches_torchvision(batch: tuple[torch.Tensor, torch.Tensor], gamma: float) -> None:
    logits, targets = batch
    expected = sigmoid_focal_loss(logits, targets, alpha=-1, gamma=gamma, reduction="mean")
    torch.testing.assert_close(FocalLoss(gamma=gamma)(logits, targets), expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(batches(), _GAMMA, st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
def test_alpha_matches_torchvision(batch: tuple[torch.Tensor, torch.Tensor], gamma: float, alpha: float) -> None:
    logits, targets = batch
    expected = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction="mean")
    got = FocalLoss(gamma=gamma, alpha=alpha)(logits, targets)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(batches(soft=True), _POS_GAMMA)
def test_focal_at_most_bce_elementwise(batch: tuple[torch.Tensor, torch.Tensor], gamma: float) -> None:
    logits, targets = batch
    fl = focal_loss(logits, targets, gamma=gamma, reduction="none")
    ce = focal_loss(logits, targets, gamma=0.0, reduction="none")
    assert fl.shape == logits.shape
    assert bool((fl >= 0).all()) and bool((fl <= ce).all())


@settings(max_examples=60, deadline=None)
@given(batches(soft=True), _GAMMA, _GAMMA)
def test_non_increasing_in_gamma(batch: tuple[torch.Tensor, torch.Tensor], g1: float, g2: float) -> None:
    logits, targets = batch
    low, high = sorted((g1, g2))
    assert FocalLoss(gamma=high)(logits, targets) <= FocalLoss(gamma=low)(logits, targets)


@settings(max_examples=60, deadline=None)
@given(batches(bound=1e4, soft=True), st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0, 5.0]), st.sampled_from([None, 0.25]))
def test_gradients_finite_for_large_logits(
    batch: tuple[torch.Tensor, torch.Tensor], gamma: float, alpha: float | None
) -> None:
    logits, targets = batch
    logits = logits.float().requires_grad_(True)
    loss = FocalLoss(gamma=gamma, alpha=alpha)(logits, targets.float())
    loss.backward()
    assert torch.isfinite(loss) and bool(torch.isfinite(logits.grad).all())


@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.5, 2.0])
def test_extreme_logits_exact_values(gamma: float) -> None:
    """Saturated logits: right answers are 0 (confidently right) and |x| (confidently wrong)."""
    logits = torch.tensor([[1e4, -1e4, 1e4, -1e4]], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    loss = focal_loss(logits, targets, gamma=gamma, reduction="none")
    torch.testing.assert_close(loss.detach(), torch.tensor([[0.0, 0.0, 1e4, 1e4]]))
    loss.sum().backward()
    torch.testing.assert_close(logits.grad, torch.tensor([[0.0, 0.0, 1.0, -1.0]]))


def test_gamma_below_one_gradient_at_saturation() -> None:
    """(1 - p) ** 0.1 has an infinite derivative at p = 1; the exp/logsigmoid form does not."""
    logits = torch.tensor([[40.0, -40.0, 0.0]], dtype=torch.float64, requires_grad=True)
    FocalLoss(gamma=0.1)(logits, torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)).backward()
    assert bool(torch.isfinite(logits.grad).all())


def test_known_value_and_targets_dtypes() -> None:
    logits = torch.tensor([[0.0, 2.0], [-1.0, 3.0]])
    targets = torch.tensor([[True, False], [False, True]])
    p = torch.sigmoid(logits)
    p_t = torch.where(targets, p, 1 - p)
    expected = (-(1 - p_t) ** 2 * torch.log(p_t)).mean()
    torch.testing.assert_close(FocalLoss()(logits, targets), expected)
    torch.testing.assert_close(FocalLoss()(logits, targets.long()), expected)
    half = FocalLoss()(logits.bfloat16(), targets)
    assert half.dtype == torch.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"gamma": -1.0}, "gamma"), ({"gamma": float("nan")}, "gamma"), ({"alpha": 1.5}, "alpha"), ({"alpha": "x"}, "alpha")],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FocalLoss(**kwargs)  # type: ignore[arg-type]


def test_shape_mismatch_and_reduction_errors() -> None:
    with pytest.raises(ValueError, match=r"same shape.*\(2, 3\).*\(2, 4\)"):
        bce()(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="reduction"):
        focal_loss(torch.zeros(1, 1), torch.zeros(1, 1), reduction="avg")


def test_plugin_specs_are_lazy_and_resolve() -> None:
    specs = {spec.name: spec for spec in micro_bench_losses()}
    assert set(specs) == {"bce", "focal"}
    assert specs["bce"].factory == "micro_bench_losses.focal:bce"
    assert specs["focal"].factory == "micro_bench_losses.focal:FocalLoss"


def test_plugin_module_imports_no_torch() -> None:
    code = "import sys, micro_bench_losses.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- per-class positive weights (issue 18) ---------------------------------------------------

from micro_bench_losses.weights import pos_weights  # noqa: E402

LABELS = np.array([[1, 0, 0, 1], [1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)


def test_pos_weight_values_on_a_known_label_matrix():
    """n = 5; positives per class 4, 1, 0, 1."""
    np.testing.assert_allclose(pos_weights(LABELS, "inverse_frequency"), [1 / 4, 4, 1, 4])
    np.testing.assert_allclose(pos_weights(LABELS, "sqrt_inverse"), [0.5, 2, 1, 2])
    beta = 0.9
    e = lambda m: (1 - beta**m) / (1 - beta)  # noqa: E731 - Cui et al.'s effective number
    np.testing.assert_allclose(pos_weights(LABELS, "effective_number", beta=beta), [e(1) / e(4), e(4) / e(1), 1, e(4) / e(1)])
    np.testing.assert_allclose(pos_weights(LABELS, "inverse_frequency", max_weight=3), [1 / 4, 3, 1, 3])
    np.testing.assert_allclose(pos_weights(LABELS, [1, 2, 3, 4]), [1, 2, 3, 4])


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(2, 30), st.integers(1, 6))))
def test_effective_number_lies_between_no_weighting_and_inverse_frequency(labels):
    inverse = pos_weights(labels, "inverse_frequency")
    for beta in (0.5, 0.99, 0.999999):
        w = pos_weights(labels, "effective_number", beta=beta)
        low, high = np.minimum(1.0, inverse), np.maximum(1.0, inverse)
        assert np.all(w >= low - 1e-9) and np.all(w <= high + 1e-9)
    np.testing.assert_allclose(pos_weights(labels, "effective_number", beta=1 - 1e-12), inverse, rtol=1e-3)


@settings(max_examples=40, deadline=None)
@given(batches(), st.floats(0.1, 10.0))
def test_weighted_bce_equals_torch_pos_weight(batch, scale):
    logits, targets = batch
    weight = torch.linspace(0.5, 0.5 * scale, logits.shape[1], dtype=torch.float64)
    ours = focal_loss(logits, targets, gamma=0.0, pos_weight=weight)
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=weight)(logits, targets)
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)


def test_loss_adapts_to_the_train_labels_and_records_them():
    loss = bce(pos_weight="inverse_frequency")
    with pytest.raises(RuntimeError, match="needs the training labels"):
        loss(torch.zeros(2, 4), torch.zeros(2, 4))
    record = loss.adapt(LABELS)
    assert record == {"pos_weight_rule": "inverse_frequency", "pos_weight": [0.25, 4.0, 1.0, 4.0]}
    focal = FocalLoss(gamma=2.0, pos_weight="effective_number", beta=0.99)
    assert focal.adapt(LABELS)["beta"] == 0.99
    with pytest.raises(ValueError, match="pos_weight must be one of inverse_frequency"):
        bce(pos_weight="inverse")
    with pytest.raises(ValueError, match="beta must be in \\(0, 1\\)"):
        FocalLoss(pos_weight="effective_number", beta=1.0)
