"""After a torch run's result is written, its resume state shrinks to the trained weights."""

from __future__ import annotations

import torch

from micro_bench import RunContext
from micro_bench_torch.checkpoint import finalize_checkpoint, load_checkpoint, save_checkpoint
from micro_bench_torch.trainer import TorchTrainer


def _state():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    return {"epoch": 2, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "history": {"train_loss": [0.5, 0.4]}, "settings": {"lr": 0.1}, "rng": {}}


def test_finalize_keeps_weights_and_drops_resume_state(tmp_path):
    state = _state()
    save_checkpoint(tmp_path / "last.pt", state)
    final = finalize_checkpoint(tmp_path)
    assert final == tmp_path / "model.pt" and not (tmp_path / "last.pt").exists()
    saved = load_checkpoint(final)
    assert set(saved) == {"format", "epoch", "model", "history", "settings"}
    assert all(torch.equal(saved["model"][k], v) for k, v in state["model"].items())
    assert saved["history"] == {"train_loss": [0.5, 0.4]}
    assert finalize_checkpoint(tmp_path) is None  # nothing left to shrink


def test_trainer_finalize_respects_keep_checkpoint(tmp_path):
    folder = tmp_path / "checkpoints"
    save_checkpoint(folder / "last.pt", _state())
    context = RunContext(directory=tmp_path)
    TorchTrainer(keep_checkpoint=True, device="cpu").finalize(context)
    assert (folder / "last.pt").exists() and (folder / "model.pt").exists()  # predict reads model.pt
    (folder / "model.pt").unlink()
    TorchTrainer(device="cpu").finalize(context)
    assert not (folder / "last.pt").exists() and (folder / "model.pt").exists()
