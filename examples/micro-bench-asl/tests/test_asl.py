"""micro-bench-asl: ASL against trusted references, its special cases, and micro-bench's contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from micro_bench_conformance.testing import assert_conforms, registered
from torchvision.ops import sigmoid_focal_loss

import micro_bench_asl.plugin
from micro_bench_asl.loss import AsymmetricLoss, asymmetric_loss

torch.set_num_threads(1)


def batch(seed: int, scale: float = 3.0, shape: tuple[int, int] = (16, 7)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * scale, torch.randint(0, 2, shape, generator=g).double()


def paper_reference(logits, targets, gamma_neg, gamma_pos, clip, eps=1e-8):
    """The paper's reference code (github.com/Alibaba-MIIL/ASL, AsymmetricLoss.forward), mean-reduced."""
    xs_pos = torch.sigmoid(logits)
    xs_neg = 1 - xs_pos
    if clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    los_pos = targets * torch.log(xs_pos.clamp(min=eps))
    los_neg = (1 - targets) * torch.log(xs_neg.clamp(min=eps))
    loss = los_pos + los_neg
    pt = xs_pos * targets + xs_neg * (1 - targets)
    gamma = gamma_pos * targets + gamma_neg * (1 - targets)
    return -(loss * torch.pow(1 - pt, gamma)).mean()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.1, 8.0))
def test_reduces_to_bce_without_focusing_or_shift(seed, scale):
    logits, targets = batch(seed, scale)
    ours = AsymmetricLoss(gamma_neg=0, gamma_pos=0, clip=0)(logits, targets)
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(logits, targets))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), gamma=st.floats(0.0, 5.0))
def test_symmetric_focusing_is_torchvision_focal_loss(seed, gamma):
    logits, targets = batch(seed)
    ours = AsymmetricLoss(gamma_neg=gamma, gamma_pos=gamma, clip=0)(logits, targets)
    torch.testing.assert_close(ours, sigmoid_focal_loss(logits, targets, alpha=-1, gamma=gamma, reduction="mean"))


@pytest.mark.parametrize(("gamma_neg", "gamma_pos", "clip"), [(4, 0, 0.05), (4, 1, 0.05), (2, 0, 0.2), (1.5, 0.5, 0.0)])
def test_matches_the_papers_reference_code(gamma_neg, gamma_pos, clip):
    logits, targets = batch(int(gamma_neg * 10 + gamma_pos))
    ours = AsymmetricLoss(gamma_neg, gamma_pos, clip)(logits, targets)
    torch.testing.assert_close(ours, paper_reference(logits, targets, gamma_neg, gamma_pos, clip))


def test_mean_reduction_is_the_papers_sum_over_b_times_k():
    logits, targets = batch(3)
    total = paper_reference(logits, targets, 4, 0, 0.05) * logits.numel()
    torch.testing.assert_close(AsymmetricLoss()(logits, targets) * logits.numel(), total)


def test_easy_negatives_below_the_margin_are_discarded():
    logits = torch.tensor([[-5.0, -2.0, 0.0]], requires_grad=True)  # p = 0.0067, 0.119, 0.5
    per_element = asymmetric_loss(logits, torch.zeros(1, 3), gamma_neg=4, gamma_pos=0, clip=0.2)
    per_element.sum().backward()
    assert per_element[0, 0] == 0 and per_element[0, 1] == 0 and per_element[0, 2] > 0
    assert logits.grad[0, 0] == 0 and logits.grad[0, 1] == 0 and logits.grad[0, 2] > 0


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0, 4.0])
def test_finite_values_and_gradients_on_saturated_logits(gamma):
    logits = torch.tensor([[-80.0, -30.0, 0.0, 30.0, 80.0]] * 2, requires_grad=True)
    targets = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 1.0]])
    value = AsymmetricLoss(gamma_neg=gamma, gamma_pos=gamma / 2, clip=0.05)(logits, targets)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(("params", "message"), [({"gamma_neg": -1}, "gamma_neg must be"), ({"clip": 1.0}, r"clip must be a number in \[0, 1\)")])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        AsymmetricLoss(**params)


def test_registered_loss_meets_micro_bench_contract(mb_host):
    with registered(micro_bench_asl.plugin, mb_host, name="asl"):
        assert_conforms("loss", "asl", mb_host)
        assert_conforms("loss", "asl", mb_host, gamma_neg=2.0, gamma_pos=1.0, clip=0.0)
