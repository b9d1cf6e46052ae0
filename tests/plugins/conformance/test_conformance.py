"""micro_bench.conformance: good components pass, each kind of contract breach is caught and named,
and every bundled component passes the same checks."""

from __future__ import annotations

import math
import os
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from micro_bench import ComponentSpec, hookimpl
from micro_bench.errors import PluginError
from micro_bench.host import Host
from micro_bench_conformance import CheckResult, check_all, check_component, check_plugin, summarize

torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no downloads in tests: fail fast, never retry


# -- components under test --------------------------------------------------------------------
class TinyNet(torch.nn.Module):
    """(B, C, H, W) -> (B, K); ``drop_head`` leaves the head out of ``layer_groups()``."""

    def __init__(self, num_classes: int, in_chans: int, drop_head: bool = False, out: int | None = None):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(in_chans, 8, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.head = torch.nn.Linear(8, out or num_classes)
        self.drop_head = drop_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(x))

    def layer_groups(self) -> list[torch.nn.Module]:
        return [self.stem] if self.drop_head else [self.stem, self.head]


def sum_bce() -> torch.nn.Module:
    return torch.nn.BCEWithLogitsLoss(reduction="sum")


def nan_loss() -> object:
    return lambda logits, targets: (logits * float("nan")).mean()


def detached_loss() -> object:
    return lambda logits, targets: torch.nn.functional.binary_cross_entropy_with_logits(logits.detach(), targets)


def f1_macro() -> object:
    return lambda y_true, y_score, y_pred: float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def per_class_support() -> object:
    return lambda y_true, y_score, y_pred: {str(k): float(v) for k, v in enumerate(y_true.sum(axis=0))}


def scaled_metric(scale: float = 2.0) -> object:
    return lambda y_true, y_score, y_pred: scale * float(y_pred.mean())


class Flips:
    def __init__(self, crop: bool = False) -> None:
        self.crop = crop

    def views(self, batch: torch.Tensor, generator: torch.Generator | None = None, *, transform: object = None):
        yield batch
        yield batch.flip(-1)[..., 1:] if self.crop else batch.flip(-1)

    def reduce(self, probabilities: torch.Tensor) -> torch.Tensor:
        return probabilities.mean(0)


class Cosine:
    def __init__(self, epochs: int | None = 2, floor: float = 0.0, drift: float = 0.0) -> None:
        self.epochs, self.floor, self.drift = epochs, floor, drift

    def multiplier(self, step: int, steps_per_epoch: int) -> float:
        total = (self.epochs or 3) * steps_per_epoch
        return self.floor + 0.5 * (1 + math.cos(math.pi * step / total))

    def attach(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
        f = partial(self.multiplier, steps_per_epoch=steps_per_epoch)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: f(s) + self.drift)


class ArrayDataset:
    """A tiny in-memory Dataset; ``label_dtype`` breaks the contract when not bool."""

    def __init__(self, n: int = 12, resolution: int = 8, label_dtype: str = "bool") -> None:
        import dask.array as da

        rng = np.random.default_rng(0)
        self.classes, self.channels, self.resolution = ["a", "b", "c"], ["r", "g", "b", "y"], resolution
        self.ids = [f"s{i}" for i in range(n)]
        self.labels = (rng.random((n, 3)) < 0.5).astype(label_dtype)
        self._pixels = da.from_array(rng.integers(0, 255, (n, 4, resolution, resolution), dtype=np.uint8), chunks=(1, 4, resolution, resolution))
        self.fingerprint = "0" * 16

    def split_indices(self, part: str, *, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
        order = np.random.default_rng(seed).permutation(len(self.ids))
        cut = np.cumsum([int(f * len(order)) for f in fractions])
        parts = dict(zip(("train", "val", "test"), np.split(order, cut[:2]), strict=True))
        return np.sort(parts[part]).astype(np.int64)

    def images(self, indices: np.ndarray | None = None):
        return self._pixels if indices is None else self._pixels[indices]

    def channel_stats(self, indices: np.ndarray):
        pixels = np.asarray(self._pixels[indices], dtype=np.float64)
        return pixels.mean(axis=(0, 2, 3)), pixels.std(axis=(0, 2, 3))


def flip_transform(images: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Flips each sample horizontally with probability 1/2."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def unseeded_transform(images: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Ignores the generator: not reproducible."""
    return images + torch.rand(images.shape)


def in_place_transform(images: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Flips the caller's batch itself: random TTA's views would compound."""
    return images.copy_(images.flip(-1))


class FakeTrainer:
    def fit(self, *args, **kwargs):
        return {}

    def predict(self, *args, **kwargs):
        return np.zeros((0, 3))


class SaveOnly(FakeTrainer):
    def save(self, model, path):
        pass


class BadLoad(SaveOnly):
    def load(self, path):  # the model argument is missing
        return None


class UndeclaredSampler:
    def fit(self, model, dataset, split, *, loss, schedule, transform, context, sampler=None):
        return {}

    def predict(self, model, dataset, indices, *, tta, transform, context):
        return np.zeros((0, 3))


class DeclaredWithoutSampler(UndeclaredSampler):
    accepts_sampler = True

    def fit(self, model, dataset, split, *, loss, schedule, transform, context):
        return {}


class GoodPlugin:
    @hookimpl
    def micro_bench_transforms(self):
        return [ComponentSpec("hflip", lambda: flip_transform)]

    @hookimpl
    def micro_bench_models(self):
        return [ComponentSpec("tiny", TinyNet)]

    @hookimpl
    def micro_bench_losses(self):
        return [ComponentSpec("bce_ref", torch.nn.BCEWithLogitsLoss)]

    @hookimpl
    def micro_bench_metrics(self):
        return [
            ComponentSpec("f1_ref", f1_macro),
            ComponentSpec("support_ref", per_class_support, extra={"range": [0, None]}),
        ]

    @hookimpl
    def micro_bench_tta_policies(self):
        return [ComponentSpec("flips_ref", Flips)]

    @hookimpl
    def micro_bench_schedulers(self):
        return [ComponentSpec("cos_ref", Cosine), ComponentSpec("cos_open", partial(Cosine, epochs=None))]

    @hookimpl
    def micro_bench_datasets(self):
        return [
            ComponentSpec("arrays", ArrayDataset, extra={"conformance_params": {"n": 10}}),
            ComponentSpec("on_disk", ArrayDataset, extra={"conformance_skip": "needs a converted store"}),
        ]

    @hookimpl
    def micro_bench_trainers(self):
        return [ComponentSpec("fake", FakeTrainer)]


class BadPlugin:
    @hookimpl
    def micro_bench_models(self):
        return [ComponentSpec("headless", partial(TinyNet, drop_head=True)), ComponentSpec("wide", partial(TinyNet, out=7))]

    @hookimpl
    def micro_bench_losses(self):
        return [ComponentSpec("sum_bce", sum_bce), ComponentSpec("nan", nan_loss), ComponentSpec("detached", detached_loss)]

    @hookimpl
    def micro_bench_metrics(self):
        return [ComponentSpec("doubled", scaled_metric), ComponentSpec("support_01", per_class_support)]

    @hookimpl
    def micro_bench_tta_policies(self):
        return [ComponentSpec("crop", partial(Flips, crop=True))]

    @hookimpl
    def micro_bench_schedulers(self):
        return [ComponentSpec("negative", partial(Cosine, floor=-2.0)), ComponentSpec("drifting", partial(Cosine, drift=0.5))]

    @hookimpl
    def micro_bench_datasets(self):
        return [ComponentSpec("int_labels", partial(ArrayDataset, label_dtype="int64"))]

    @hookimpl
    def micro_bench_trainers(self):
        return [ComponentSpec("no_predict", object), ComponentSpec("save_only", SaveOnly),
                ComponentSpec("bad_load", BadLoad), ComponentSpec("undeclared_sampler", UndeclaredSampler),
                ComponentSpec("declared_no_sampler", DeclaredWithoutSampler)]

    @hookimpl
    def micro_bench_transforms(self):
        return [ComponentSpec("unseeded", lambda: unseeded_transform), ComponentSpec("in_place", lambda: in_place_transform)]


@pytest.fixture(scope="module")
def pm():
    return Host.load(builtins=False, entrypoints=False, plugins_dir=None, plugins=[GoodPlugin(), BadPlugin()])


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def test_good_plugin_passes_every_check(pm):
    plugin = pm.pm.get_name(next(p for p in pm.pm.get_plugins() if isinstance(p, GoodPlugin)))
    results = _by_name(check_plugin(pm, plugin))
    assert set(results) == {"tiny", "bce_ref", "f1_ref", "support_ref", "flips_ref", "cos_ref", "cos_open", "arrays", "on_disk", "fake", "hflip"}
    assert all(r.ok for r in results.values()), [str(r) for r in results.values() if not r.ok]
    assert results["on_disk"].skipped and "needs a converted store" in results["on_disk"].message
    assert "2 layer groups" in results["tiny"].message
    assert "N=10, K=3" in results["arrays"].message
    assert summarize(results.values()) == "10 passed, 0 failed, 1 skipped"
    assert str(results["bce_ref"]).startswith(f"PASS loss bce_ref [{plugin}]")


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("model", "headless", "layer_groups() misses 2 of 4 parameters"),
        ("model", "wide", "expected (2, 5)"),
        ("loss", "sum_bce", "not a mean"),
        ("loss", "nan", "non-finite loss"),
        ("loss", "detached", "not differentiable"),
        ("metric", "doubled", "outside its range [0.0, 1.0]"),
        ("metric", "support_01", "outside its range"),
        ("tta", "crop", "view 1 has shape (2, 4, 32, 31)"),
        ("scheduler", "negative", "negative or non-finite"),
        ("scheduler", "drifting", "after attach(), step 0"),
        ("dataset", "int_labels", "(N, K) bool ndarray"),
        ("trainer", "no_predict", "missing ['fit', 'predict']"),
        ("trainer", "save_only", "has save() without load()"),
        ("trainer", "bad_load", "load() cannot be called as load(path, model)"),
        ("trainer", "undeclared_sampler", "does not declare accepts_sampler = True"),
        ("trainer", "declared_no_sampler", "declares accepts_sampler but fit() does not take a 'sampler'"),
        ("transform", "unseeded", "differs for the same generator state"),
        ("transform", "in_place", "modified its input batch"),
    ],
)
def test_contract_breaches_are_named(pm, kind, name, expected):
    result = check_component(kind, name, pm.registries[kind])
    assert not result.ok and result.status == "FAIL"
    assert expected in result.message, result.message
    assert result.plugin == pm.pm.get_name(next(p for p in pm.pm.get_plugins() if isinstance(p, BadPlugin)))


def test_metric_value_matches_sklearn(pm):
    result = check_component("metric", "f1_ref", pm.registries["metric"])
    rng = np.random.default_rng(0)
    y_true = rng.random((40, 5)) < 0.4
    y_true[0], y_true[1] = True, False
    y_pred = rng.random((40, 5)) >= 0.5
    assert result.message.startswith(f"{f1_score(y_true, y_pred, average='macro', zero_division=0):.4g} in [0.0, 1.0]")


def test_params_override_and_unknown_params_fail(pm):
    ok = check_component("scheduler", "cos_ref", pm.registries["scheduler"], epochs=4)
    assert ok.ok and "over 40 steps (epochs=4)" in ok.message
    bad = check_component("loss", "bce_ref", pm.registries["loss"], gama=2.0)
    assert not bad.ok and bad.message.startswith("could not be created")


def test_unknown_component_and_plugin(pm):
    result = check_component("loss", "bcee", pm.registries["loss"])
    assert not result.ok and "bce_ref" in result.message
    with pytest.raises(PluginError, match="no plugin named 'nope'"):
        check_plugin(pm, "nope")
    with pytest.raises(ValueError, match="unknown component kind 'losses'"):
        check_component("losses", "bce_ref", pm.registries["loss"])


@settings(max_examples=20, deadline=None)
@given(
    exc=st.sampled_from([RuntimeError, ValueError, KeyError, ZeroDivisionError, IndexError]),
    text=st.text(alphabet="abcxyz ", min_size=1, max_size=12),
)
def test_a_crashing_component_is_reported_never_raised(exc, text):
    def crashing():
        def loss(logits, targets):
            raise exc(text)

        return loss

    class Crashing:
        @hookimpl
        def micro_bench_losses(self):
            return [ComponentSpec("crash", crashing)]

    local = Host.load(builtins=False, entrypoints=False, plugins=[Crashing()])
    result = check_component("loss", "crash", local.registries["loss"])
    assert not result.ok and result.message.startswith(f"failed its check: {exc.__name__}")


def test_check_all_covers_every_component(pm):
    results = check_all(pm)
    assert sum(len(r.names()) for r in pm.registries.values()) == len(results)
    assert summarize(results) == "10 passed, 18 failed, 1 skipped"


# -- the bundled plugins pass the same checks -------------------------------------------------
def _bundled() -> list[tuple[str, str]]:
    regs = Host.load(entrypoints=False, plugins_dir=None).registries
    return [(kind, name) for kind, reg in regs.items() for name in reg.names()]


@pytest.fixture(scope="module")
def bundled_pm():
    return Host.load(entrypoints=False, plugins_dir=None)


@pytest.mark.parametrize(("kind", "name"), _bundled())
def test_bundled_component_conforms(bundled_pm, kind, name):
    result = check_component(kind, name, bundled_pm.registries[kind])
    assert result.ok, str(result)


# -- micro_bench_conformance.testing, the pytest plugin for plugin authors --------------------------------
pytest_plugins = ["pytester"]


@pytest.mark.slow
def test_pytest_plugin_end_to_end(pytester):
    pytester.makepyfile(
        test_author="""
        import torch
        from micro_bench import ComponentSpec, hookimpl
        from micro_bench_conformance.testing import assert_conforms, registered

        class Mine:
            @hookimpl
            def micro_bench_losses(self):
                return [ComponentSpec("mine", torch.nn.BCEWithLogitsLoss),
                        ComponentSpec("summed", lambda: torch.nn.BCEWithLogitsLoss(reduction="sum"))]

        def test_isolated_and_temporary(mb_host, mb_registries):
            assert "bce" in mb_registries["loss"].names()
            with registered(Mine(), mb_host) as name:
                assert mb_host.registries["loss"].plugin_of("mine") == name
                assert assert_conforms("loss", "mine", mb_host).ok
            assert "mine" not in mb_host.registries["loss"].names()

        def test_breach_fails_readably(mb_host):
            with registered(Mine(), mb_host):
                assert_conforms("loss", "summed", mb_host)
        """
    )
    result = pytester.runpytest_subprocess("-p", "micro_bench_conformance.testing", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAIL loss summed*not a mean*"])
