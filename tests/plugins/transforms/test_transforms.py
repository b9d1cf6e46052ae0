"""The bundled transforms: fastai 0.7's augmentation, batched, against per-sample references."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from micro_bench_transforms.fastai import KERNEL_13, TOP_DOWN, Draws, FastaiAugment, rotate
from micro_bench_transforms.identity import NoAugment
from micro_bench_transforms.plugin import micro_bench_transforms

torch.set_num_threads(1)
OFF = {"max_rotate": 0.0, "lighting_b": 0.0, "lighting_c": 0.0, "dihedral": False, "p_flip": 0.0}


def _images(b: int = 6, c: int = 4, side: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, c, side, side, generator=torch.Generator().manual_seed(seed))


def _smooth(side: int = 40) -> torch.Tensor:
    """A smooth 4-channel 0-1 image (interpolation differences stay tiny on it)."""
    y, x = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    return torch.stack([torch.sin(3 * x + 2 * y) * 0.5 + 0.5, x * y, (x - y) ** 2, torch.cos(5 * y) * 0.5 + 0.5])


def _reference(image: torch.Tensor, draws: Draws, i: int) -> torch.Tensor:
    """One sample augmented the fastai way, per sample, with torchvision's functional ops for
    the rotation (symmetric padding = cv2.BORDER_REFLECT) and numpy for the rest."""
    side = image.shape[-1]
    x = image
    if bool(draws.rotate[i]):
        pad = side // 2
        padded = TF.pad(x, [pad], padding_mode="symmetric")
        turned = TF.rotate(padded, float(draws.degrees[i]), interpolation=InterpolationMode.BILINEAR)
        x = TF.center_crop(turned, [side, side])
    a = x.double().numpy()
    b, c = float(draws.brightness[i]), float(draws.contrast[i])
    mu = np.average(a)  # fastai 0.7 lighting(): the mean over the whole image
    a = np.clip((a - mu) * c + mu + b, 0.0, 1.0)
    a = np.rot90(a, int(draws.quarter_turns[i]), axes=(-2, -1))
    if bool(draws.flip[i]):
        a = np.flip(a, axis=-1)
    return torch.from_numpy(a.copy()).float()


def test_batched_transform_equals_the_per_sample_reference() -> None:
    images = _images(b=16, side=24, seed=1)
    transform = FastaiAugment(max_rotate=30.0, lighting_b=0.2, lighting_c=0.3)
    draws = transform.draw(len(images), torch.Generator().manual_seed(5))
    assert 0 < int(draws.rotate.sum()) < 16 and len(set(draws.quarter_turns.tolist())) > 1
    got = transform.apply(images, draws)
    for i in range(len(images)):
        # tolerance: float32 bilinear weights computed in two orders (observed ~1e-6)
        torch.testing.assert_close(got[i], _reference(images[i], draws, i), rtol=0, atol=2e-5)


def test_call_draws_from_the_generator_deterministically() -> None:
    images, transform = _images(), FastaiAugment()
    a = transform(images, generator=torch.Generator().manual_seed(3))
    b = transform.apply(images, transform.draw(len(images), torch.Generator().manual_seed(3)))
    assert torch.equal(a, b)
    assert not torch.equal(a, transform(images, generator=torch.Generator().manual_seed(4)))


def test_rotation_is_cv2_warp_affine_with_border_reflect() -> None:
    """fastai 0.7 rotated with cv2.warpAffine(BORDER_REFLECT), bilinear; ours about the exact centre."""
    cv2 = pytest.importorskip("cv2")
    image = _smooth(40)
    for degrees in (7.0, -9.5, 30.0):
        ours = rotate(image[None], torch.tensor([degrees]))[0].permute(1, 2, 0).numpy()
        matrix = cv2.getRotationMatrix2D((19.5, 19.5), degrees, 1.0)
        theirs = cv2.warpAffine(image.permute(1, 2, 0).numpy().copy(), matrix, (40, 40),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_rotation_direction_matches_torchvision_on_rectangles() -> None:
    image = _smooth(48)[:, :, 8:40]  # (4, 48, 32)
    padded = TF.pad(image, [20], padding_mode="symmetric")
    want = TF.center_crop(TF.rotate(padded, 12.0, interpolation=InterpolationMode.BILINEAR), [48, 32])
    torch.testing.assert_close(rotate(image[None], torch.tensor([12.0]))[0], want, rtol=0, atol=2e-5)


def test_draw_distribution_is_fastais() -> None:
    transform = FastaiAugment()
    draws = transform.draw(20000, torch.Generator().manual_seed(0))
    assert abs(float(draws.rotate.double().mean()) - 0.75) < 0.015  # RandomRotate(p=0.75)
    assert float(draws.degrees.abs().max()) <= 10.0
    assert abs(float(draws.flip.double().mean()) - 0.5) < 0.015
    counts = np.bincount(draws.quarter_turns.numpy(), minlength=4) / 20000
    np.testing.assert_allclose(counts, 0.25, atol=0.015)
    assert float(draws.brightness.abs().max()) <= 0.05
    assert float(draws.contrast.min()) >= 1 / 1.05 - 1e-12 and float(draws.contrast.max()) <= 1.05 + 1e-12
    side_on = FastaiAugment(dihedral=False).draw(100, torch.Generator().manual_seed(0))
    assert not side_on.quarter_turns.any()


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 5), c=st.integers(1, 4), side=st.integers(2, 20), seed=st.integers(0, 2**32),
       p_rotate=st.sampled_from([0.0, 1.0]), double=st.booleans())
def test_identity_at_zero_strength(b: int, c: int, side: int, seed: int, p_rotate: float, double: bool) -> None:
    images = _images(b, c, side, seed % 1000).to(torch.float64 if double else torch.float32)
    params = dict(OFF, max_rotate=0.0 if p_rotate else 25.0, p_rotate=p_rotate)
    out = FastaiAugment(**params)(images, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(out, images)
    assert NoAugment()(images, generator=None) is images


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 5), c=st.integers(1, 4), side=st.integers(2, 20), seed=st.integers(0, 2**32),
       rotate_deg=st.floats(0, 180), light=st.floats(0, 0.5), dihedral=st.booleans(), double=st.booleans())
def test_shape_dtype_device_range_and_input_kept(b: int, c: int, side: int, seed: int, rotate_deg: float,
                                                 light: float, dihedral: bool, double: bool) -> None:
    images = _images(b, c, side, seed % 1000).to(torch.float64 if double else torch.float32)
    before = images.clone()
    transform = FastaiAugment(max_rotate=rotate_deg, lighting_b=light, lighting_c=light, dihedral=dihedral)
    out = transform(images, generator=torch.Generator().manual_seed(seed))
    assert out.shape == images.shape and out.dtype == images.dtype and out.device == images.device
    assert bool(((out >= 0) & (out <= 1)).all())
    assert torch.equal(images, before)


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 6), side=st.integers(2, 16), seed=st.integers(0, 2**32), dihedral=st.booleans())
def test_flips_are_exact_permutations(b: int, side: int, seed: int, dihedral: bool) -> None:
    images = _images(b, 3, side, seed % 1000)
    out = FastaiAugment(**dict(OFF, dihedral=dihedral, p_flip=0.5))(images, generator=torch.Generator().manual_seed(seed))
    for got, image in zip(out, images, strict=True):
        turns = range(4) if dihedral else range(1)
        group = [torch.rot90(image, k, dims=(-2, -1)) for k in turns]
        group += [g.flip(-1) for g in group]
        assert any(torch.equal(got, g) for g in group)  # bit-exact: no interpolation
        assert torch.equal(got.flatten().sort().values, image.flatten().sort().values)


def test_rotation_with_reflect_padding_keeps_a_constant_image_constant() -> None:
    constant = torch.full((3, 4, 32, 32), 0.25)
    out = FastaiAugment(**dict(OFF, max_rotate=45.0, p_rotate=1.0))(constant, generator=torch.Generator())
    torch.testing.assert_close(out, constant)  # no black corners, unlike zero padding


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_numbers_on_cuda() -> None:  # pragma: no cover - GPU machines only
    images, transform = _images(b=8, side=64), FastaiAugment()
    cpu = transform(images, generator=torch.Generator().manual_seed(1))
    gpu = transform(images.cuda(), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_rotate": -1}, "max_rotate"), ({"max_rotate": 200}, "max_rotate"), ({"p_rotate": 1.5}, "p_rotate"),
     ({"lighting_b": "x"}, "lighting_b"), ({"lighting_c": 1.0}, "lighting_c"), ({"dihedral": "yes"}, "dihedral"),
     ({"p_flip": True}, "p_flip"), ({"p_flip": float("nan")}, "p_flip")],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=f"transform 'fastai': {match}"):
        FastaiAugment(**kwargs)  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) float.*\(4, 8, 8\)"):
        FastaiAugment()(torch.zeros(4, 8, 8), generator=None)
    with pytest.raises(ValueError, match="square"):
        FastaiAugment()(torch.zeros(1, 4, 8, 6), generator=None)
    with pytest.raises(ValueError, match="float"):
        FastaiAugment()(torch.zeros(1, 4, 8, 8, dtype=torch.uint8), generator=None)


def test_plugin_specs_and_no_torch_import() -> None:
    specs = {spec.name: spec.factory for spec in micro_bench_transforms()}
    assert specs == {"fastai": "micro_bench_transforms.fastai:FastaiAugment",
                     "none": "micro_bench_transforms.identity:NoAugment"}
    code = "import sys, micro_bench_transforms.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("table", ["hpa_table3", "hpa_table4", "hpa_beyond"])
def test_paper_tables_train_with_the_kernels_augmentation_and_random_tta(table: str) -> None:
    """The kernel [13]'s aug_tfms (RandomRotate(30), RandomDihedral(), RandomLighting(0.05, 0.05),
    fastai 0.7's p) and learn.TTA() (n_aug=4)."""
    from pathlib import Path

    from micro_bench.config import load_config

    kernel = {"max_rotate": 30.0, "p_rotate": 0.75, "lighting_b": 0.05, "lighting_c": 0.05, "dihedral": True,
              "p_flip": 0.5}
    assert kernel == KERNEL_13 and FastaiAugment(**KERNEL_13).settings() == kernel
    for profile in (None, "smoke"):
        for run in load_config(Path(__file__).resolve().parents[3] / "benchmarks" / f"{table}.yaml", profile=profile).runs:
            assert run.transform is not None and (run.transform.name, dict(run.transform.params)) == ("fastai", kernel)
            assert run.tta is not None and run.tta.name == "random" and run.tta.params["n"] == 4
    # the defaults stay fastai 0.7's transforms_top_down (the old setting: max_rotate: 10)
    assert FastaiAugment().settings() == TOP_DOWN == {**kernel, "max_rotate": 10.0}


def test_kernel_augmentation_draws_rotations_up_to_30_degrees_and_fastai_lighting() -> None:
    """RandomRotate(30): U(-30, 30) degrees with p 0.75; RandomLighting(0.05, 0.05): b ~ U(-0.05, 0.05),
    c = 1 + u or 1 / (1 - u) for u ~ U(-0.05, 0.05); applied to an image as (x - mean) c + mean + b."""
    from scipy import stats

    transform = FastaiAugment(**KERNEL_13)
    draws = transform.draw(20000, torch.Generator().manual_seed(3))
    degrees = draws.degrees.numpy()
    assert 29.9 < np.abs(degrees).max() <= 30.0
    assert stats.kstest(degrees, stats.uniform(loc=-30, scale=60).cdf).pvalue > 0.01
    assert abs(float(draws.rotate.double().mean()) - 0.75) < 0.015
    b = draws.brightness.numpy()
    assert 0.0499 < np.abs(b).max() <= 0.05
    u = np.where(draws.contrast.numpy() >= 1, draws.contrast.numpy() - 1, 1 - 1 / draws.contrast.numpy())
    assert stats.kstest(u, stats.uniform(loc=-0.05, scale=0.1).cdf).pvalue > 0.01
    # lighting alone, on one image, against numpy
    light = FastaiAugment(**{**KERNEL_13, "max_rotate": 0.0, "dihedral": False, "p_flip": 0.0})
    image = _images(b=1, side=16, seed=9)
    d = light.draw(1, torch.Generator().manual_seed(4))
    x = image.double().numpy()
    want = np.clip((x - x.mean()) * float(d.contrast[0]) + x.mean() + float(d.brightness[0]), 0, 1)
    np.testing.assert_allclose(light.apply(image, d).numpy(), want, atol=1e-6)
