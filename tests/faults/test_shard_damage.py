"""A deleted and a bit-flipped shard: named by ``data verify``, refused by a dataset (and a run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from micro_bench_hpa.dataset import HPADataset
from micro_bench_hpa.integrity import MANIFEST, shard_path
from micro_bench_hpa.store import StoreError
from micro_bench_hpa.synth.generate import generate_store

from .conftest import assert_user_error, invoke


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return generate_store(tmp_path_factory.mktemp("s") / "s.zarr", n=40, resolutions=(32, 16), seed=1)


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "copy.zarr"))


def test_intact_store_verifies_and_opens(store: Path) -> None:
    result = invoke("data", "verify", str(store))
    assert result.exit_code == 0 and "OK (40 written samples" in result.output, result.output
    assert len(HPADataset(store, 32)) == 40


def test_deleted_shard(store: Path) -> None:
    before = HPADataset(store, 16).fingerprint
    shard_path(store, 32, 1).unlink()  # samples 32..39 (block size 32)
    result = invoke("data", "verify", str(store))
    assert_user_error(result, "8 damaged sample(s), 1 missing")
    assert "missing shard: " + str(store / "images/32/c/1/0/0/0") in result.output
    with pytest.raises(StoreError, match=r"images/32/c/1/0/0/0 .*is missing"):
        HPADataset(store, 32)
    assert HPADataset(store, 16).fingerprint == before  # the other resolution is intact


def test_bit_flipped_shard(store: Path) -> None:
    f = shard_path(store, 16, 0)
    data = bytearray(f.read_bytes())
    data[4 * 16 * 16 * 3 + 100] ^= 0x10  # one bit of sample 3's pixels
    f.write_bytes(bytes(data))
    result = invoke("data", "verify", str(store))
    assert_user_error(result, "1 damaged sample(s), 0 missing and 1 changed")
    assert "damaged sample: row 3 id " in result.output
    with pytest.raises(StoreError, match=r"images/16/c/0/0/0/0 changed since the store was written"):
        HPADataset(store, 16)
    # Without the manifest the flip still shows in verify (digests), and a run refuses via the CLI.
    (store / MANIFEST).unlink()
    assert "damaged sample: row 3 id " in invoke("data", "verify", str(store)).output


def test_run_refuses_damaged_store(store: Path, tmp_path: Path) -> None:
    shard_path(store, 32, 0).unlink()
    bench = tmp_path / "b.yaml"
    bench.write_text(f"""version: 1
name: dmg
dataset: {{name: hpa, store: {store}, resolution: 32}}
model: {{name: logreg, C: 0.1}}
trainer: {{name: sklearn, resolution: 32}}
evaluate: {{split: val, threshold: 0.5}}
metrics: [f1_macro]
""")
    assert_user_error(invoke("run", str(bench), "--out", str(tmp_path / "runs")), "images/32/c/0/0/0/0", "is missing")
    assert not list((tmp_path / "runs").rglob("result.json"))
