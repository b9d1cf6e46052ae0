"""``split.method`` reaches the dataset: the HPA datasets implement ``random`` (the paper's split)
and ``multilabel_stratified``; a dataset without split methods refuses any other method."""

from __future__ import annotations

import numpy as np
import pytest

from micro_bench import Split
from micro_bench.errors import ConfigError
from micro_bench_hpa.split import random_split, stratified_split


def test_split_of_a_dataset_passes_the_method(tmp_path, monkeypatch):
    from micro_bench_hpa.synth.dataset import hpa_synth

    ds = hpa_synth(n=60, resolution=32, cache_dir=tmp_path)
    recipe = {"fractions": [0.6, 0.2, 0.2], "seed": 4}
    rand = Split.of(ds, {**recipe, "method": "random"})
    codes = random_split(len(ds), (0.6, 0.2, 0.2), 4)
    for k, part in enumerate(("train", "val", "test")):
        assert np.array_equal(rand.indices(part), np.flatnonzero(codes == k))
    strat = Split.of(ds, {**recipe, "method": "multilabel_stratified"})
    codes = stratified_split(ds.labels, (0.6, 0.2, 0.2), 4)
    assert np.array_equal(strat.val, np.flatnonzero(codes == 1)) and not np.array_equal(strat.val, rand.val)
    with pytest.raises(ValueError, match="unknown split method 'kfold'"):
        Split.of(ds, {**recipe, "method": "kfold"})


class _NoMethods:
    name = "plain"
    labels = np.zeros((10, 2), bool)

    def split_indices(self, part, *, fractions=(0.8, 0.1, 0.1), seed=0):
        return {"train": np.arange(8), "val": np.array([8]), "test": np.array([9])}[part]


def test_a_dataset_without_split_methods_gets_the_default_only():
    assert Split.of(_NoMethods()).sizes() == {"train": 8, "val": 1, "test": 1}
    with pytest.raises(ConfigError, match="split method 'random': dataset 'plain' offers no split methods"):
        Split.of(_NoMethods(), {"method": "random"})


def test_unknown_method_is_a_located_error_at_run(toy_pm, toy_bench, tmp_path):
    from micro_bench.config import load_config
    from micro_bench.runner import run_benchmark

    path = toy_bench()
    text = path.read_text().replace("transform: null", "transform: null\nsplit: {method: random}")
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"toy\.yaml: split: split method 'random': dataset"):
        run_benchmark(load_config(path), tmp_path / "runs", host=toy_pm, progress=False)
    path.write_text(text.replace("{method: random}", "{method: 7}"))
    with pytest.raises(ConfigError, match=r"split\.method: expected the name of a split method"):
        load_config(path)


def test_declared_split_methods_match_the_implementation():
    from micro_bench_hpa.plugin import SPLIT_METHODS
    from micro_bench_hpa.split import METHODS

    assert list(METHODS) == SPLIT_METHODS
