"""Bad inputs to ``data convert`` / ``data synth --png``: one located error line, exit 1 (2 for
usage), nothing written damaged; 16-bit oddities and a kill in the first second."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from micro_bench_hpa.store import DONE, create_store, open_store
from micro_bench_hpa.synth.generate import write_png_layout

from .conftest import assert_user_error, invoke

COLORS = ("red", "green", "blue", "yellow")


@pytest.fixture(scope="module")
def pngs(tmp_path_factory) -> Path:
    return write_png_layout(tmp_path_factory.mktemp("png") / "src", n=4, resolution=512, seed=0)


@pytest.fixture
def src(pngs: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pngs, tmp_path / "src"))


def convert(*args: str):
    return invoke("data", "convert", *args, "--resolutions", "64", "--workers", "1")


def test_csv_with_bom_converts(src: Path, tmp_path: Path) -> None:
    (src / "train.csv").write_bytes(b"\xef\xbb\xbf" + (src / "train.csv").read_bytes())
    assert convert(str(src), str(tmp_path / "d.zarr")).exit_code == 0
    assert (open_store(tmp_path / "d.zarr")["status"][:] == DONE).all()


CSV_CASES = {
    "header_only": (b"Id,Target\n", "lists none of the samples"),
    "no_header": (b"a,1\nb,2\n", "expected a CSV with columns Id,Target"),
    "latin1": ("Id,Target\ncaf\u00e9,1\n".encode("latin-1"), "not UTF-8 text"),
    "nul_bytes": (b"Id,Target\nab\0c,1\n", "no_images 1, not_in_csv 4"),
    "empty": (b"", "expected a CSV with columns Id,Target"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_label_csv(src: Path, tmp_path: Path, case: str) -> None:
    data, needle = CSV_CASES[case]
    (src / "train.csv").write_bytes(data)
    assert_user_error(convert(str(src), str(tmp_path / "d.zarr")), "train.csv", needle)
    assert not (tmp_path / "d.zarr").exists()


def test_missing_csv_and_no_valid_sample(src: Path, tmp_path: Path) -> None:
    (src / "train.csv").rename(src / "labels.csv")
    assert_user_error(convert(str(src), str(tmp_path / "d.zarr")), "no label CSV found")
    (src / "labels.csv").rename(src / "train.csv")
    for f in (src / "train").glob("*.png"):
        f.write_bytes(b"not a png")
    assert_user_error(convert(str(src), str(tmp_path / "d.zarr")), "no valid sample to convert (unreadable 4)")


@pytest.mark.parametrize(("option", "value"), [("--resolutions", ""), ("--resolutions", "0"), ("--resolutions", "a"),
                                               ("--block-size", "0"), ("--workers", "0")])
def test_bad_options_are_usage_errors(src: Path, tmp_path: Path, option: str, value: str) -> None:
    result = invoke("data", "convert", str(src), str(tmp_path / "d.zarr"), option, value)
    assert result.exit_code == 2 and "Traceback" not in result.output and option in result.output, result.output
    assert not (tmp_path / "d.zarr").exists()


def test_destination_under_a_regular_file(src: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert_user_error(convert(str(src), str(tmp_path / "file" / "d.zarr")), "is a regular file, not a folder")
    assert (tmp_path / "file").read_text() == "x"


def test_damaged_store_metadata(src: Path, tmp_path: Path) -> None:
    dest = tmp_path / "d.zarr"
    assert convert(str(src), str(dest)).exit_code == 0
    shutil.rmtree(dest / "ids")
    assert_user_error(convert(str(src), str(dest)), str(dest), "damaged store metadata")
    (dest / "zarr.json").write_text("{not json")
    assert_user_error(convert(str(src), str(dest)), str(dest), "unreadable zarr metadata")


def test_kill_in_the_first_second_leaves_nothing_half_made(src: Path, tmp_path: Path, monkeypatch) -> None:
    """The store skeleton is built aside and renamed into place: a kill before the rename leaves
    only a hidden ``.creating`` folder, removed by the next run, which converts normally."""
    import zarr

    dest = tmp_path / "d.zarr"
    real = zarr.Group.create_array

    def die(self, name, *a, **kw):  # the kill: after zarr.json, before the arrays
        raise KeyboardInterrupt

    monkeypatch.setattr(zarr.Group, "create_array", die)
    with pytest.raises(KeyboardInterrupt):
        create_store(dest, ids=["a"], labels=np.zeros((1, 28), bool), resolutions=[64], source="x")
    assert not dest.exists() and list(tmp_path.glob(".d.zarr.*.creating"))
    monkeypatch.setattr(zarr.Group, "create_array", real)
    assert convert(str(src), str(dest)).exit_code == 0
    assert not list(tmp_path.glob(".d.zarr.*.creating"))


def test_not_enough_space_refused_before_writing(src: Path, tmp_path: Path, monkeypatch) -> None:
    import micro_bench_commands.failures as failures

    monkeypatch.setattr(failures, "free_bytes", lambda path: 1000)
    result = convert(str(src), str(tmp_path / "d.zarr"))
    assert_user_error(result, "d.zarr: no space left on device (0.0 MB free there); about 0.1 MB more needed")


def _gray16(path: Path, values: np.ndarray) -> None:
    Image.fromarray(values.astype(np.uint16)).save(path)


def test_8bit_values_in_16bit_png_rejected_and_mixed_depths_reported(src: Path, tmp_path: Path) -> None:
    ids = [line.split(",")[0] for line in (src / "train.csv").read_text().splitlines()[1:]]
    rng = np.random.default_rng(0)
    for c in COLORS:  # sample 0: 16-bit files holding 8-bit values
        _gray16(src / "train" / f"{ids[0]}_{c}.png", rng.integers(0, 256, (512, 512)))
    _gray16(src / "train" / f"{ids[1]}_green.png", rng.integers(0, 65536, (512, 512)))  # sample 1: mixed
    result = convert(str(src), str(tmp_path / "d.zarr"))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "d.zarr" / "convert_report.json").read_text())
    kinds = {item["id"]: item["kind"] for item in report["skipped"]}
    assert kinds == {ids[0]: "8bit_in_16bit", ids[1]: "mixed_bit_depth"}
    assert report["written"] == 2


def test_synth_png_refuses_non_empty_destination(tmp_path: Path) -> None:
    dest = tmp_path / "png"
    dest.mkdir()
    (dest / "train.csv").write_text("mine")
    assert_user_error(invoke("data", "synth", str(dest), "--png", "--n", "2", "--resolution", "16"),
                      "folder is not empty", "--overwrite")
    assert (dest / "train.csv").read_text() == "mine"
    result = invoke("data", "synth", str(dest), "--png", "--n", "2", "--resolution", "16", "--overwrite")
    assert result.exit_code == 0 and (dest / "train.csv").read_text().startswith("Id,Target")


def test_a_store_being_converted_is_locked(src: Path, tmp_path: Path) -> None:
    from micro_bench.runfolder import run_lock

    dest = tmp_path / "d.zarr"
    with run_lock(dest, wait=False) as held:  # as another `data convert` into dest would hold it
        assert held
        assert_user_error(convert(str(src), str(dest)), str(dest), "another conversion into it is running (pid ")
    assert convert(str(src), str(dest)).exit_code == 0  # free again
