"""Figures written beside results: class distribution of the split (and its inputs)."""

from __future__ import annotations

from types import SimpleNamespace

from PIL import Image

from micro_bench_metrics.distribution import plot_class_distribution, plot_run_distribution


def test_class_distribution_png(tmp_path):
    counts = {"train": [100, 10, 0], "val": [12, 1, 0], "test": [13, 2, 1], "n": {"train": 110, "val": 13, "test": 15}}
    path = plot_class_distribution(counts, tmp_path / "d.png", class_names=["a", "b", "c"])
    with Image.open(path) as im:
        assert im.format == "PNG"
        width, height = im.size
    assert width == 880 and height > 200


def test_run_distribution_needs_all_parts(tmp_path):
    result = SimpleNamespace(counts={"train": [1, 2]}, dataset={"name": "x"})
    assert plot_run_distribution(result, tmp_path) is None
    result.counts = {"train": [1, 2], "val": [0, 1], "test": [1, 0]}
    assert plot_run_distribution(result, tmp_path) == tmp_path / "class_distribution.png"
    assert (tmp_path / "class_distribution.png").stat().st_size > 1000
