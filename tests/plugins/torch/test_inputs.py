"""The torch trainer's input path: uint8 host batches, augmentation and standardization on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from micro_bench_torch import inputs
from micro_bench_torch.inputs import (
    Batches,
    DevicePipeline,
    LoaderSettings,
    auto_workers,
    batch_loader,
    reader_for,
)
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_transforms.fastai import FastaiAugment
from micro_bench_tta.random_views import RandomViews

torch.set_num_threads(1)
DS = synthetic_dataset(n=40, k=3, resolution=16)
CPU = torch.device("cpu")


def _pipeline(transform: object = None, device: torch.device = CPU) -> DevicePipeline:
    mean, std = DS.channel_stats(DS.split_indices("train"))
    return DevicePipeline(device, mean, std, transform=transform)


def _uint8(b: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.asarray(DS.images(np.arange(seed, seed + b))))


def test_loader_delivers_uint8_batches_in_order_with_their_targets() -> None:
    idx = DS.split_indices("train")
    data = Batches(reader_for(DS), idx, DS.labels[idx])
    batches = list(batch_loader(data, LoaderSettings(8, 0, "auto", CPU), shuffle_seed=None))
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    assert batches[0][0].dtype == torch.uint8 and batches[0][0].shape == (8, 4, 16, 16)
    assert np.array_equal(x.numpy(), np.asarray(DS.images(idx)))
    assert np.array_equal(y.numpy(), DS.labels[idx].astype(np.float32))


def test_shuffled_batches_same_with_a_worker_and_the_fallback_reader() -> None:
    idx = DS.split_indices("train")

    class Plain:  # a dataset with only the contract's images(); no reader()
        def images(self, indices: np.ndarray) -> object:
            return DS.images(indices)

    main = list(batch_loader(Batches(reader_for(DS), idx, DS.labels[idx]), LoaderSettings(8, 0, "auto", CPU),
                             shuffle_seed=11))
    worker = list(batch_loader(Batches(reader_for(Plain()), idx, DS.labels[idx]), LoaderSettings(8, 1, 2, CPU),
                               shuffle_seed=11))
    assert len(main) == len(worker) == len(idx) // 8 + (len(idx) % 8 > 1)
    for (xa, ya), (xb, yb) in zip(main, worker, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_device_batch_equals_the_cpu_reference_path() -> None:
    """uint8 -> /255 -> augmentation -> standardization, against numpy in float64 per sample."""
    transform = FastaiAugment(max_rotate=20.0)
    x = _uint8(8)
    got = _pipeline(transform).train(x, torch.Generator().manual_seed(4))
    mean, std = DS.channel_stats(DS.split_indices("train"))
    draws = transform.draw(len(x), torch.Generator().manual_seed(4))
    augmented = transform.apply(x.double() / 255, draws)  # the same draws, in float64
    want = (augmented.numpy() - mean[:, None, None] / 255) / (std[:, None, None] / 255)
    # tolerance: float32 against float64 (interpolation and standardization), in std units
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-4)


def test_training_augmentation_is_exactly_the_random_tta_view() -> None:
    transform, x = FastaiAugment(), _uint8(8)
    pipeline = _pipeline(transform)
    train = [pipeline.train(x, g) for g in [torch.Generator().manual_seed(9)] for _ in range(3)]
    views = list(pipeline.views(x, RandomViews(n=3), torch.Generator().manual_seed(9)))
    assert len(views) == 4
    assert torch.equal(views[0], pipeline.eval(x))
    for view, batch in zip(views[1:], train, strict=True):
        assert torch.equal(view, batch)


def test_auto_workers_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert auto_workers(CPU) == (0, None)
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(inputs.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert auto_workers(cuda) == (8, 4)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert auto_workers(cuda) == (3, 4)
    monkeypatch.setattr(inputs.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert auto_workers(cuda) == (0, None)


def test_reader_must_return_uint8() -> None:
    data = Batches(lambda idx: np.zeros((len(idx), 4, 2, 2), np.float32), np.arange(3), np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match="expected \\(n, C, R, R\\) uint8"):
        data[[0, 1]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_pipeline_equals_cpu() -> None:  # pragma: no cover - GPU machines only
    transform, x = FastaiAugment(), _uint8(8)
    cpu = _pipeline(transform).train(x, torch.Generator().manual_seed(2))
    gpu = _pipeline(transform, torch.device("cuda")).train(x.pin_memory(), torch.Generator().manual_seed(2))
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-4)
