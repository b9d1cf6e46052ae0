"""What the hostile-user probe (``tools/probe.py``) found, each a named test: one located line,
non-zero exit, nothing overwritten (before the fixes: tracebacks, a silently accepted bad value, and
``results --out`` / ``report --out`` replacing a benchmark's ``index.json``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import assert_user_error, invoke

SK = {
    "version": 1, "name": "tiny_sk", "seed": 0,
    "dataset": {"name": "hpa_synth", "n": 40, "resolution": 32},
    "split": {"fractions": [0.5, 0.25, 0.25]},
    "model": {"name": "logreg", "C": 0.1, "solver": "lbfgs"},
    "trainer": {"name": "sklearn", "n_jobs": 1, "resolution": 8},
    "transform": None, "evaluate": {"split": "val", "threshold": 0.5},
    "metrics": ["f1_macro", "roc_auc_macro"], "runs": [{"label": "a"}, {"label": "b", "model": {"C": 1.0}}],
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sk")
    (root / "b.yaml").write_text(yaml.safe_dump(SK))
    result = invoke("run", str(root / "b.yaml"), "--out", str(root / "runs"), "--no-progress")
    assert result.exit_code == 0, result.output
    return root / "runs"


@pytest.fixture
def runs(finished: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "runs"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", ["results", "report"])
def test_results_and_report_out_never_inside_the_runs_folder(runs: Path, command: str) -> None:
    before = _files(runs)
    target = runs / "tiny_sk" / "index.json"
    assert_user_error(invoke(command, str(runs), "--out", str(target)), f"--out {target}: inside the results folder")
    assert _files(runs) == before  # index.json was overwritten by the table before


@pytest.mark.parametrize("how", ["garbage", "truncate"])
@pytest.mark.parametrize("command", [["results"], ["tables", "--out", "{tmp}/t"], ["compare", "a", "b"],
                                     ["report", "--out", "{tmp}/r.html"]])
def test_damaged_predictions_are_one_line(runs: Path, tmp_path: Path, command: list[str], how: str) -> None:
    path = sorted(runs.glob("tiny_sk/*/predictions.npz"))[0]
    path.write_bytes(b"garbage" * 9 if how == "garbage" else path.read_bytes()[:100])
    args = [command[0], str(runs), *[a.format(tmp=tmp_path) for a in command[1:]]]
    assert_user_error(invoke(*args), f"{path}: cannot be read", "micro-bench verify")


@pytest.mark.parametrize("command", [["verify"], ["results"], ["tables", "--out", "{tmp}/t"], ["compare", "a", "b"]])
def test_a_manifest_whose_rows_are_not_a_list_is_one_line(runs: Path, tmp_path: Path, command: list[str]) -> None:
    index = runs / "tiny_sk" / "index.json"
    index.write_text(json.dumps({**json.loads(index.read_text()), "rows": 5}))
    result = invoke(command[0], str(runs), *[a.format(tmp=tmp_path) for a in command[1:]])
    assert_user_error(result)
    assert "index.json" in result.output


def test_predict_with_a_garbage_manifest_is_one_line(runs: Path, tmp_path: Path) -> None:
    (runs / "tiny_sk" / "index.json").write_bytes(b"\xff\xfe garbage")
    images = tmp_path / "imgs"
    images.mkdir()
    assert_user_error(invoke("predict", str(runs / "tiny_sk"), str(images), "--run", "a", "--out", str(tmp_path / "p.csv")),
                      "index.json")


def test_predict_refuses_a_manifest_key_outside_the_folder(runs: Path, tmp_path: Path) -> None:
    index = runs / "tiny_sk" / "index.json"
    data = json.loads(index.read_text())
    data["rows"][0]["key"] = "../../../etc"
    index.write_text(json.dumps(data))
    (tmp_path / "imgs").mkdir()
    assert_user_error(invoke("predict", str(runs / "tiny_sk"), str(tmp_path / "imgs"), "--run", "a", "--out",
                             str(tmp_path / "p.csv")), "not a run key")


@pytest.mark.parametrize("how", ["garbage", "delete"])
def test_verify_runs_checks_the_model_card(runs: Path, how: str) -> None:
    card = sorted(runs.glob("tiny_sk/*/model/model.json"))[0]
    if how == "garbage":
        card.write_bytes(b"\x00garbage")
    else:
        card.unlink()
    result = invoke("verify", str(runs))
    assert_user_error(result, "1 damaged result(s)")
    assert "model/model.json" in result.output


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    from micro_bench_hpa.synth.generate import generate_store

    return generate_store(tmp_path_factory.mktemp("s") / "s.zarr", n=40, resolutions=(16,), seed=2)


@pytest.mark.parametrize(("rel", "how"), [("labels/c/0/0", "garbage"), ("status/c/0", "truncate"),
                                          ("labels/zarr.json", "garbage"), ("labels/zarr.json", "delete")])
def test_data_info_on_a_damaged_store_is_one_line(store: Path, tmp_path: Path, rel: str, how: str) -> None:
    copy = Path(shutil.copytree(store, tmp_path / "s.zarr"))
    path = copy / rel
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    else:
        path.write_bytes(b"\x00\xffgarbage" * 5)
    assert_user_error(invoke("data", "info", str(copy)), f"{copy}: cannot be read", "micro-bench data verify")


def test_data_info_with_a_cut_class_list_is_one_line(store: Path, tmp_path: Path) -> None:
    import zarr

    copy = Path(shutil.copytree(store, tmp_path / "s.zarr"))
    group = zarr.open_group(copy, mode="r+")
    group.attrs["classes"] = list(group.attrs["classes"])[:5]
    assert_user_error(invoke("data", "info", str(copy)), "attribute classes names 5")


def test_init_out_inside_a_store_is_refused(store: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(store, tmp_path / "s.zarr"))
    before = _files(copy)
    assert_user_error(invoke("init", str(copy), "--out", str(copy / "b.yaml")), "which micro-bench wrote")
    assert _files(copy) == before


def test_tables_format_checked_before_writing(runs: Path, tmp_path: Path) -> None:
    result = invoke("tables", str(runs), "--format", "md,docx", "--out", str(tmp_path / "t"))
    assert result.exit_code == 1 and "--format 'md,docx'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t").exists()


def test_pattern_with_an_unknown_placeholder_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "labels.csv").write_text("Id,Target\na,x\n")
    assert_user_error(invoke("data", "convert", str(src), str(tmp_path / "o.zarr"), "--labels", str(src / "labels.csv"),
                             "--channels", "r,g", "--pattern", "{id}_{channel}_{x}.png"), "unknown placeholder {x}")


@pytest.mark.parametrize("value", ["x", [0.1, 0.2, 0.3], 1.5, {"a": 1}])
def test_timm_model_parameters_checked_at_validate(tmp_path: Path, value) -> None:
    bench = {**SK, "model": {"name": "timm:resnet10t", "pretrained": False, "dropout": value},
             "trainer": {"name": "torch", "batch_size": 8, "epochs": 1, "device": "cpu"}, "loss": "bce"}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bench))
    assert_user_error(invoke("validate", str(tmp_path / "b.yaml")), "model.dropout: expected a number in [0, 1)")


def test_verify_a_store_without_its_manifest_says_so(store: Path, tmp_path: Path) -> None:
    """A sealed store's shard_manifest.json deleted: data verify said OK (nothing left to check the
    shards' CRC-32C against); now a named problem."""
    copy = Path(shutil.copytree(store, tmp_path / "s.zarr"))
    (copy / "shard_manifest.json").unlink()
    result = invoke("data", "verify", str(copy))
    assert_user_error(result, "structural problem")
    assert "problem: shard_manifest.json is missing" in result.output


def test_sklearn_trainer_resolution_not_dividing_the_images_is_one_line(tmp_path: Path) -> None:
    """trainer.resolution left at its default (64) on a 32 px dataset: an internal error (exit 70)
    before; now the user's setting named, with the fix."""
    bench = {**SK, "trainer": {"name": "sklearn", "n_jobs": 1}}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bench))
    assert_user_error(invoke("run", str(tmp_path / "b.yaml"), "--out", str(tmp_path / "runs"), "--no-progress"),
                      "trainer.resolution: the sklearn trainer pools to 64 px", "set trainer.resolution to a divisor of 32")


@pytest.mark.parametrize("pattern", ["/etc/{id}_{channel}.png", "../{id}_{channel}.png"])
def test_pattern_outside_the_source_is_one_line(tmp_path: Path, pattern: str) -> None:
    """An absolute --pattern reached pathlib's glob (NotImplementedError, exit 70)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "labels.csv").write_text("Id,Target\na,x\n")
    assert_user_error(invoke("data", "convert", str(src), str(tmp_path / "o.zarr"), "--labels", str(src / "labels.csv"),
                             "--channels", "r,g", "--pattern", pattern), "must be relative to the source folder")


def test_predict_pattern_outside_the_source_is_one_line(runs: Path, tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    assert_user_error(invoke("predict", str(runs / "tiny_sk"), str(tmp_path / "imgs"), "--run", "a", "--out",
                             str(tmp_path / "p.csv"), "--pattern", "/etc/{id}_{channel}.png"), "must be relative to")
