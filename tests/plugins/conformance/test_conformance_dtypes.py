"""Conformance for 8- and 16-bit datasets (issue 23 leftover): the dataset check follows the pixel
type a dataset declares (``dtype``; the Protocol's ``uint8`` without one), and the ``images``
dataset is checked on real stores converted by ``data convert`` instead of being skipped."""

from __future__ import annotations

import numpy as np
import pytest

from micro_bench import ComponentSpec, hookimpl
from micro_bench.host import Host
from micro_bench_conformance import check_component
from micro_bench_conformance.checks import Violation, check_dataset
from micro_bench_hpa.conformance import images_params
from micro_bench_hpa.store import open_store


@pytest.fixture(scope="module")
def datasets():
    return Host.load(entrypoints=False, plugins_dir=None).registries["dataset"]


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_images_dataset_conforms_on_a_converted_store(datasets, dtype):
    params = images_params(dtype)
    group = open_store(params["store"])
    assert (group.attrs.get("dtype", "uint8"), group.attrs["format_version"]) == (dtype, 4)
    top = int(group["images/16"][:].max())
    assert top > 255 if dtype == "uint16" else top <= 255  # 12-bit values really in 16 bits
    result = check_component("dataset", "images", datasets, **params)
    scale = "0-65535" if dtype == "uint16" else "0-255"
    assert result.ok and not result.skipped, str(result)
    assert result.message == (f"N=24, K=5, images {dtype} (n, 3, 16, 16); ids, labels and splits agree; "
                              f"statistics on the {scale} scale")


def test_images_is_checked_by_default_not_skipped(datasets):
    result = check_component("dataset", "images", datasets)  # conformance_params names the factory
    assert result.ok and not result.skipped and "images uint16" in result.message, str(result)
    assert "conformance_skip" not in (datasets.spec("images").extra or {})


class Pixels:
    """A tiny in-memory dataset of ``dtype`` pixels that declares ``declared`` (and ``max_value``)."""

    def __init__(self, dtype="uint16", declared="uint16", max_value=None, stats_scale=1.0):
        import dask.array as da

        rng = np.random.default_rng(0)
        self.classes, self.channels, self.resolution = ["a", "b"], ["x", "y"], 8
        self.ids = [f"s{i}" for i in range(10)]
        self.labels = rng.random((10, 2)) < 0.5
        self.fingerprint = "f" * 16
        if declared is not None:
            self.dtype = declared
        if max_value is not None:
            self.max_value = max_value
        top = 4095 if dtype == "uint16" else 255
        self._pixels = da.from_array(rng.integers(0, top + 1, (10, 2, 8, 8)).astype(dtype), chunks=(1, 2, 8, 8))
        self.stats_scale = stats_scale

    def split_indices(self, part, *, fractions=(0.8, 0.1, 0.1), seed=0):
        return {"train": np.arange(0, 8), "val": np.arange(8, 9), "test": np.arange(9, 10)}[part].astype(np.int64)

    def images(self, indices=None):
        return self._pixels if indices is None else self._pixels[indices]

    def channel_stats(self, indices):
        pixels = np.asarray(self._pixels[indices], dtype=np.float64) * self.stats_scale
        return pixels.mean(axis=(0, 2, 3)), pixels.std(axis=(0, 2, 3))


@pytest.mark.parametrize(("ds", "message"), [
    (Pixels("uint8", "uint16"), "images() is uint8 (3, 2, 8, 8), expected uint16 (3, 2, 8, 8)"),
    (Pixels("uint16", None), "images() is uint16 (3, 2, 8, 8), expected uint8 (3, 2, 8, 8)"),
    (Pixels("uint16", "float32"), "dtype is 'float32', expected one of uint8, uint16"),
    (Pixels("uint16", "uint16", max_value=255), "max_value is 255, expected 65535 for uint16 pixels"),
    (Pixels("uint8", "uint8", stats_scale=300.0), "channel_stats outside the uint8 scale 0-255"),
])
def test_dataset_check_follows_the_declared_pixel_type(ds, message):
    with pytest.raises(Violation) as caught:
        check_dataset(ds)
    assert message in str(caught.value)


def test_a_16bit_dataset_that_declares_it_passes():
    assert check_dataset(Pixels("uint16", "uint16")).startswith("N=10, K=2, images uint16 (n, 2, 8, 8)")
    assert check_dataset(Pixels("uint8", None)).startswith("N=10, K=2, images uint8 (n, 2, 8, 8)")


class _FactoryPlugin:
    @hookimpl
    def micro_bench_datasets(self):
        return [ComponentSpec("made", Pixels, extra={"conformance_params": f"{__name__}:_made_params"}),
                ComponentSpec("broken_factory", Pixels, extra={"conformance_params": "no_such_module_xyz:f"})]


def _made_params():
    return {"dtype": "uint16", "declared": "uint16"}


def test_conformance_params_may_name_a_factory():
    reg = Host.load(builtins=False, entrypoints=False, plugins=[_FactoryPlugin()]).registries["dataset"]
    made = check_component("dataset", "made", reg)
    assert made.ok and "images uint16" in made.message, str(made)
    broken = check_component("dataset", "broken_factory", reg)
    assert not broken.ok and broken.message.startswith("could not be created: ModuleNotFoundError"), str(broken)
