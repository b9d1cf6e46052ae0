"""Frozen BatchNorm (fastai 0.7's ``set_train_mode``): the layers of frozen groups stay in eval
mode during the head-only epoch, so their running statistics do not move."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from micro_bench import RunContext, Split
from micro_bench_torch.groups import build_optimizer, set_trainable, train_mode
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_torch.trainer import TorchTrainer

torch.set_num_threads(1)


class BNNet(nn.Module):
    """BatchNorm in the frozen body groups and in the head (as fastai's head has)."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.BatchNorm1d(8), nn.Linear(8, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))

    def layer_groups(self) -> list[list[nn.Module]]:
        return [[self.stem], [self.body], [self.head]]


def _stats(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items() if "running" in k or "num_batches" in k}


def _unchanged(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("bn_frozen", ["eval", "train"])
def test_head_only_step_leaves_frozen_running_stats(bn_frozen: str) -> None:
    model = BNNet()
    set_trainable(model, frozen=True)
    train_mode(model, bn_frozen)
    assert model.training and model.head[0].training
    assert model.stem[1].training == (bn_frozen == "train")
    body, head = _stats(nn.ModuleList([model.stem, model.body])), _stats(model.head)
    opt = build_optimizer(model, 0.01, (0.1, 0.333, 1.0))
    loss = nn.BCEWithLogitsLoss()(model(torch.randn(6, 4, 8, 8) * 3 + 1), torch.ones(6, 3))
    loss.backward()
    opt.step()
    assert _unchanged(body, _stats(nn.ModuleList([model.stem, model.body]))) == (bn_frozen == "eval")
    assert not _unchanged(head, _stats(model.head))  # the trained head's BatchNorm always learns
    set_trainable(model, frozen=False)
    train_mode(model, bn_frozen)
    assert all(m.training for m in model.modules())  # unfrozen: everything in training mode


def test_bad_bn_frozen_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bn_frozen must be one of eval, train"):
        TorchTrainer(bn_frozen="frozen", device="cpu")


def test_trainer_head_only_epoch_keeps_body_running_stats(tmp_path: Path) -> None:
    ds = synthetic_dataset(n=40, k=3, resolution=16)
    model = BNNet()
    body = _stats(nn.ModuleList([model.stem, model.body]))
    head = _stats(model.head)
    trainer = TorchTrainer(batch_size=8, lr=0.01, device="cpu", threads=1, freeze_epochs=1, epochs=0,
                           checkpoint=False)
    history = trainer.fit(model, ds, Split.of(ds), loss=nn.BCEWithLogitsLoss(), schedule=None,
                          context=RunContext(directory=tmp_path, seed=3, label="t", progress=False,
                                             log=lambda s: None))
    assert history["bn_frozen"] == "eval" and history["precision"] == "fp32"
    assert _unchanged(body, _stats(nn.ModuleList([model.stem, model.body])))
    assert not _unchanged(head, _stats(model.head))
