"""Per-epoch validation metrics: the torch trainer scores its validation predictions with the
run's metric plugins, built from the registries of the host running it (``context.host``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score
from torch import nn

from micro_bench import RunContext, Split
from micro_bench.host import Host
from micro_bench_torch.epochs import EPOCH_METRICS
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_torch.trainer import TorchTrainer

torch.set_num_threads(1)


class Tiny(nn.Module):
    def __init__(self, k: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def layer_groups(self) -> list[list[nn.Module]]:
        return [[self.body], [self.head]]


def test_val_metrics_each_epoch_equal_sklearn_on_the_final_predictions(tmp_path: Path) -> None:
    ds = synthetic_dataset(n=60, k=3, resolution=16)
    split = Split.of(ds, {"method": "multilabel_stratified", "fractions": [0.5, 0.5, 0.0], "seed": 0})
    seen: list[dict[str, float]] = []
    ctx = RunContext(directory=tmp_path, seed=1, progress=False, log=lambda s: None,
                     epoch_end=lambda e, m: seen.append(dict(m)), host=Host.load(entrypoints=False))
    trainer = TorchTrainer(batch_size=8, lr=0.01, lr_groups=(0.5, 1.0), freeze_epochs=0, epochs=2,
                           device="cpu", threads=1, checkpoint=False,
                           epoch_metrics=["f1_macro", "roc_auc_macro"])
    model = Tiny()
    history = trainer.fit(model, ds, split, loss=nn.BCEWithLogitsLoss(), schedule=None, context=ctx)
    assert len(history["val_f1_macro"]) == 2 and [set(m) >= {"val_f1_macro", "val_roc_auc_macro"} for m in seen] == [True, True]
    # the last epoch's validation scores are the trained model's predictions on val
    y = ds.labels[split.val]
    score = trainer.predict(model, ds, split.val, tta=None, context=ctx)
    ok = (y.sum(0) > 0) & (y.sum(0) < len(y))
    assert history["val_roc_auc_macro"][-1] == pytest.approx(roc_auc_score(y[:, ok], score[:, ok], average="macro"), abs=1e-6)
    f1 = f1_score(y, score >= 0.5, average="macro", zero_division=0)
    assert history["val_f1_macro"][-1] == pytest.approx(f1, abs=1e-6)
    assert seen[-1]["val_f1_macro"] == history["val_f1_macro"][-1]
    assert EPOCH_METRICS in ctx.stash  # built once for the run, kept under the torch plugin's own key


@pytest.mark.parametrize("names, host", [((), True), (("f1_macro",), False)])
def test_off_when_empty_or_without_a_host(tmp_path: Path, names, host) -> None:
    ds = synthetic_dataset(n=30, k=3, resolution=16)
    seen: list[dict[str, float]] = []
    ctx = RunContext(directory=tmp_path, progress=False, log=lambda s: None, epoch_end=lambda e, m: seen.append(dict(m)),
                     host=Host.load(entrypoints=False) if host else None)
    TorchTrainer(batch_size=8, lr_groups=(0.5, 1.0), freeze_epochs=0, epochs=1, device="cpu", threads=1,
                 checkpoint=False, epoch_metrics=names).fit(
        Tiny(), ds, Split.of(ds), loss=nn.BCEWithLogitsLoss(), schedule=None, context=ctx)
    assert set(seen[0]) == {"train_loss", "val_loss", "lr"}
    assert np.isfinite(seen[0]["val_loss"])


def test_on_by_default_with_macro_f1_and_roc_auc() -> None:
    assert TorchTrainer(device="cpu").epoch_metrics == ("f1_macro", "roc_auc_macro")
