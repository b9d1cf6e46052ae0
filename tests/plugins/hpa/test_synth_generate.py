"""hpa_synth stores, the Kaggle PNG layout, the cached factory and the CLI command."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from micro_bench_hpa.store import open_store
from micro_bench_hpa.synth import dataset as synth_dataset
from micro_bench_hpa.synth.cli import synth
from micro_bench_hpa.synth.generate import generate_store, synth_ids, synth_labels, write_png_layout
from micro_bench_hpa.synth.labels import load_hpa_labels
from micro_bench_hpa.synth.render import GENERATOR_VERSION, render_batch


def test_store_holds_rendered_samples_and_real_labels(tmp_path: Path) -> None:
    path = generate_store(tmp_path / "s.zarr", n=12, resolutions=(32, 16), seed=2, difficulty=0.3)
    g = open_store(path)
    assert g.attrs["source"].startswith("hpa_synth")
    meta = g.attrs["synth"]
    assert (meta["n"], meta["seed"], meta["difficulty"], meta["generator_version"]) == (12, 2, 0.3, GENERATOR_VERSION)
    _, table = load_hpa_labels()
    labels = g["labels"][:]
    assert np.array_equal(labels, table[meta["hpa_rows"]])
    assert list(g["ids"][:]) == synth_ids(12, 2)
    for r in (32, 16):
        expected = render_batch(labels, resolution=r, seed=2, difficulty=0.3)
        assert np.array_equal(g[f"images/{r}"][:], expected)
    assert (g["status"][:] == 1).all()
    # same parameters again: reopened, nothing changes
    generate_store(path, n=12, resolutions=(32, 16), seed=2, difficulty=0.3)
    assert np.array_equal(open_store(path)["images/32"][:], g["images/32"][:])


def test_parallel_workers_write_the_same_store(tmp_path: Path) -> None:
    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    one = generate_store(tmp_path / "one.zarr", n=40, resolutions=8, seed=1)  # 2 blocks of 32
    two = generate_store(tmp_path / "two.zarr", n=40, resolutions=8, seed=1, workers=2)
    assert files(one) == files(two)


def test_png_layout_round_trip(tmp_path: Path) -> None:
    dest = write_png_layout(tmp_path / "kaggle", n=3, resolution=32, seed=1, difficulty=0.5)
    with open(dest / "train.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Id", "Target"]
    _, labels = synth_labels(3, 1)
    expected = render_batch(labels, resolution=32, seed=1, difficulty=0.5)
    for i, (sample_id, target) in enumerate(rows[1:]):
        assert {int(t) for t in target.split()} == set(np.flatnonzero(labels[i]))
        for c, color in enumerate(("red", "green", "blue", "yellow")):
            img = Image.open(dest / "train" / f"{sample_id}_{color}.png")
            assert img.mode == "L" and img.size == (32, 32)
            assert np.array_equal(np.asarray(img), expected[i, c])


def test_factory_caches_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = synth_dataset.hpa_synth(n=20, resolution=16, seed=0, cache_dir=tmp_path)
    assert len(ds.ids) == 20 and ds.labels.shape == (20, 28) and ds.resolution == 16
    assert ds.images(np.arange(2)).compute().shape == (2, 4, 16, 16)
    assert [p.name for p in (tmp_path / "hpa_synth").iterdir()] == [ds.path.name]  # no temp left

    import micro_bench_hpa.synth.generate as gen

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("regenerated a cached dataset")

    monkeypatch.setattr(gen, "generate_store", boom)
    again = synth_dataset.hpa_synth(n=20, resolution=16, seed=0, cache_dir=tmp_path)
    assert again.fingerprint == ds.fingerprint
    other = synth_dataset.synth_store_path(20, 16, 1, 0.5, tmp_path)
    assert other != ds.path


def test_cache_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICRO_BENCH_CACHE", str(tmp_path))
    assert synth_dataset.synth_store_path(5, 16, 0, 0.5).parent == tmp_path / "hpa_synth"


def test_cli_store_png_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(synth, [str(tmp_path / "c.zarr"), "--n", "4", "--resolution", "32,16", "--seed", "1"])
    assert out.exit_code == 0, out.output
    assert open_store(tmp_path / "c.zarr").attrs["resolutions"] == [32, 16]
    out = runner.invoke(synth, [str(tmp_path / "png"), "--n", "2", "--resolution", "16", "--png"])
    assert out.exit_code == 0, out.output
    assert len(list((tmp_path / "png" / "train").glob("*.png"))) == 8
    out = runner.invoke(synth, [str(tmp_path / "x"), "--difficulty", "2"])
    assert out.exit_code != 0 and "difficulty" in out.output
    out = runner.invoke(synth, [str(tmp_path / "x"), "--resolution", "big"])
    assert out.exit_code != 0 and "comma-separated integers" in out.output


def test_cli_preview(tmp_path: Path) -> None:
    out = CliRunner().invoke(synth, [str(tmp_path / "p.png"), "--preview", "--n", "60", "--resolution", "48"])
    assert out.exit_code == 0, out.output
    with Image.open(tmp_path / "p.png") as img:
        assert img.size[0] > 300
