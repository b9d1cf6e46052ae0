"""The torch trainer's model folder: ``save`` writes the weights and statistics, ``load`` restores
them into a fresh model so that ``predict`` equals the trained one's; ``finalize`` drops the resume state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from micro_bench import RunContext, Split
from micro_bench_torch.checkpoint import load_checkpoint, save_checkpoint
from micro_bench_torch.errors import CheckpointError
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_torch.trainer import TorchTrainer

torch.set_num_threads(1)


class Net(torch.nn.Module):
    def __init__(self, k: int = 3, width: int = 4) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(4, width, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.head = torch.nn.Linear(width, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def layer_groups(self) -> list[list[torch.nn.Module]]:
        return [[self.body], [self.head]]


def test_save_then_load_predicts_as_the_trained_model(tmp_path):
    ds = synthetic_dataset(n=24, k=3, resolution=8)
    split = Split.of(ds)
    ctx = RunContext(directory=tmp_path, seed=1, progress=False, log=lambda s: None)
    trainer = TorchTrainer(batch_size=8, lr=0.01, lr_groups=(1.0, 1.0), freeze_epochs=0, epochs=1, device="cpu",
                           threads=1, checkpoint=False)
    torch.manual_seed(0)
    model = Net()
    trainer.fit(model, ds, split, loss=torch.nn.BCEWithLogitsLoss(), schedule=None, context=ctx)
    expected = trainer.predict(model, ds, split.test, tta=None, context=ctx)
    trainer.save(model, tmp_path / "model")
    saved = load_checkpoint(tmp_path / "model" / "model.pt")
    assert set(saved) == {"format", "model", "stats"}
    assert saved["stats"]["mean"] == [float(v) for v in trainer.stats[0]]

    fresh = TorchTrainer(batch_size=8, device="cpu", threads=1)
    torch.manual_seed(5)
    loaded = fresh.load(tmp_path / "model", Net())
    np.testing.assert_array_equal(fresh.predict(loaded, ds, split.test, tta=None, context=ctx), expected)
    with pytest.raises(CheckpointError, match=r"do not fit the model \(\d+ weights missing"):
        TorchTrainer(device="cpu").load(tmp_path / "model", torch.nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match="missing; the run kept no trained weights"):
        TorchTrainer(device="cpu").load(tmp_path / "nothing", Net())


def test_trainer_finalize_respects_keep_checkpoint(tmp_path):
    folder = tmp_path / "checkpoints"
    save_checkpoint(folder / "last.pt", {"epoch": 1, "model": torch.nn.Linear(2, 2).state_dict()})
    context = RunContext(directory=tmp_path)
    TorchTrainer(keep_checkpoint=True, device="cpu").finalize(context)
    assert (folder / "last.pt").exists()
    TorchTrainer(device="cpu").finalize(context)
    assert not (folder / "last.pt").exists()
    TorchTrainer(device="cpu").finalize(context)  # nothing left: no error
