"""Issue 28's probe cases, each a named test: one located line, non-zero exit, nothing damaged.

Stores: a flipped byte in the ids or status chunk, a deleted status chunk, an edited labels chunk,
a cut class list (``data verify`` names each); remote locations (``memory://`` refused by the CLI,
an unknown protocol, a missing fsspec package); ``--scheduler`` not an address or a server that
accepts TCP but is not dask; ``predict`` thresholds that are strings or outside [0, 1];
``predict --out`` inside a runs folder, a store or its inputs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from micro_bench_hpa.synth.generate import generate_store
from micro_bench_predict.card import ModelCardError
from micro_bench_predict.rules import parse_threshold

from .conftest import assert_user_error, invoke


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return generate_store(tmp_path_factory.mktemp("s") / "s.zarr", n=40, resolutions=(16,), seed=2)


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "copy.zarr"))


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _verify_fails(store: Path, *needles: str) -> str:
    result = invoke("data", "verify", str(store))
    assert_user_error(result, "structural problem")
    for needle in needles:
        assert f"problem: {needle}" in result.output, result.output
    return result.output


def test_verify_flipped_byte_in_ids_chunk(store: Path) -> None:
    _flip(store / "ids" / "c" / "0")
    _verify_fails(store, "array ids cannot be decoded: a damaged chunk")


def test_verify_flipped_byte_in_status_chunk(store: Path) -> None:
    _flip(store / "status" / "c" / "0")
    _verify_fails(store, "array status cannot be decoded")


def test_verify_deleted_status_chunk(store: Path) -> None:
    (store / "status" / "c" / "1").unlink()  # rows 32..39 read as never written
    out = _verify_fails(store, "array status marks 8 sample(s) never written, but the store was sealed")
    assert "file status/c/1 recorded in the manifest is missing" in out


def test_verify_edited_labels(store: Path) -> None:
    import zarr

    group = zarr.open_group(store, mode="r+")
    labels = group["labels"][:]
    labels[3, 4] = ~labels[3, 4]
    group["labels"][:] = labels
    _verify_fails(store, "file labels/c/0/0 changed since the store was written")


def test_verify_cut_class_list(store: Path) -> None:
    import zarr

    group = zarr.open_group(store, mode="r+")
    group.attrs["classes"] = group.attrs["classes"][:5]
    _verify_fails(store, "array labels has 28 classes but attribute classes names 5")


def test_verify_bad_split_and_stats_arrays(store: Path) -> None:
    import zarr

    group = zarr.open_group(store, mode="r+")
    group.create_array("splits/ms_x", data=np.full(40, 7, dtype=np.int8))
    group.create_array("stats/rows_x/16", data=np.array([[1.0, np.nan, 1, 1], [1, 1, 1, -1]]))
    _verify_fails(store, "array splits/ms_x is int8 (40,) with codes [7]", "array stats/rows_x/16 is (2, 4)")


def test_verify_intact_store_and_file_url(store: Path) -> None:
    for given in (str(store), f"file://{store}"):
        result = invoke("data", "verify", given)
        assert result.exit_code == 0 and "OK (40 written samples" in result.output, result.output


@pytest.mark.parametrize(("url", "needle"), [
    ("memory://x.zarr", "exists only inside one Python process"),
    ("nosuchproto://bucket/x.zarr", "unknown URL protocol 'nosuchproto'"),
])
def test_verify_and_convert_remote_refusals(tmp_path: Path, url: str, needle: str) -> None:
    assert_user_error(invoke("data", "verify", url), url, needle)
    assert_user_error(invoke("data", "convert", str(tmp_path), url), url, needle)


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed here")
def test_missing_fsspec_package_named(tmp_path: Path) -> None:
    assert_user_error(invoke("data", "convert", str(tmp_path), "gs://bucket/x.zarr"), "pip install gcsfs")
    assert_user_error(invoke("data", "verify", "gs://bucket/x.zarr"), "pip install gcsfs")


def test_scheduler_not_an_address(tmp_path: Path) -> None:
    result = invoke("data", "convert", str(tmp_path), str(tmp_path / "o.zarr"), "--scheduler", "not an address")
    assert_user_error(result, "not a scheduler address; expected tcp://HOST:PORT")
    assert not (tmp_path / "o.zarr").exists()


def test_scheduler_that_is_not_dask_times_out(tmp_path: Path, monkeypatch) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    monkeypatch.setenv("MICRO_BENCH_CONNECT_TIMEOUT", "2")
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        result = invoke("data", "convert", str(tmp_path), str(tmp_path / "o.zarr"), "--scheduler", address)
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    assert_user_error(result, f"cannot reach the dask scheduler at {address}: none answered within 2 s")
    assert not (tmp_path / "o.zarr").exists()


CARD = {"classes": ["a", "b", "c"], "thresholds": {"rule": "fixed", "values": [0.5, 0.5, 0.5]}, "run": {}}


@pytest.mark.parametrize(("name", "text", "needle"), [
    ("strings.json", json.dumps(["x", "y", "z"]), "the threshold of entry 0 is 'x', expected a number"),
    ("short.json", json.dumps([0.5, 0.5]), "expected a list of 3 thresholds (one per class), got 2 entries"),
    ("object.json", json.dumps({"values": "high"}), "expected a list of 3 thresholds"),
    ("broken.json", "[0.5, ", "not valid JSON"),
    ("strings.csv", "class,threshold\na,0.5\nb,high\nc,0.5\n", "the threshold of class 'b' is 'high'"),
    ("outside.csv", "a,0.5\nb,2\nc,0.5\n", "threshold 2 of class 'b' is outside [0, 1]"),
    ("negative.json", json.dumps([0.5, -1, 0.5]), "threshold -1 of class 'b' is outside [0, 1]"),
])
def test_threshold_files_refused(tmp_path: Path, name: str, text: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ModelCardError) as info:
        parse_threshold(str(path), CARD)
    assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)


@pytest.mark.parametrize("value", ["-1", "2", "nan", "inf"])
def test_constant_thresholds_outside_unit_interval(value: str) -> None:
    with pytest.raises(ModelCardError, match=r"expected a number in \[0, 1\]"):
        parse_threshold(value, CARD)
    assert parse_threshold("0", CARD)[1].tolist() == [0.0, 0.0, 0.0]
    assert parse_threshold("1", CARD)[1].tolist() == [1.0, 1.0, 1.0]


@pytest.fixture
def run_tree(tmp_path: Path, pristine: Path) -> dict[str, Path]:
    runs = tmp_path / "runs"
    run = runs / "bench" / "abc123"
    run.mkdir(parents=True)
    (runs / "bench" / "index.json").write_text("{}")
    (run / "result.json").write_text("{}")
    images = tmp_path / "images"
    images.mkdir()
    (images / "x_red.png").write_bytes(b"not really")
    return {"runs": runs, "run": run, "images": images, "store": pristine}


@pytest.mark.parametrize(("where", "needle"), [
    (lambda t: t["run"] / "result.json", "inside the runs folder"),
    (lambda t: t["runs"] / "preds.csv", "inside the runs folder"),
    (lambda t: t["runs"] / "bench" / "preds.csv", "inside the runs folder"),
    (lambda t: t["store"] / "preds.csv", "inside the zarr store"),
    (lambda t: t["images"] / "x_red.png", "among the inputs"),
])
def test_predict_out_never_overwrites_the_tools_files(run_tree: dict[str, Path], where, needle: str) -> None:
    out = where(run_tree)
    before = {p: p.read_bytes() for p in (run_tree["run"] / "result.json", run_tree["images"] / "x_red.png")}
    result = invoke("predict", str(run_tree["run"]), str(run_tree["images"]), "--out", str(out))
    assert_user_error(result, str(out), needle)
    assert {p: p.read_bytes() for p in before} == before


class _LyingTrainer:
    """A third-party trainer whose ``predict`` breaks the contract in one chosen way."""

    def __init__(self, mode: str = "seven") -> None:
        self.mode = mode

    def fit(self, model, dataset, split, *, loss, schedule, transform, context):
        return {}

    def predict(self, model, dataset, indices, *, tta, transform, context):
        out = np.full((len(indices), 3), 0.5)
        if self.mode == "seven":
            out[2, 1] = 7.0
        elif self.mode == "nan":
            out[0, 0] = np.nan
        elif self.mode == "shape":
            out = out[:, :2]
        elif self.mode == "strings":
            return [["x"] * 3] * len(indices)
        return out


class _LyingPlugin:
    from micro_bench import ComponentSpec, hookimpl

    @hookimpl
    def micro_bench_trainers(self):
        return [self.ComponentSpec("liar", _LyingTrainer, "breaks the probability contract")]


@pytest.mark.parametrize(("mode", "needle"), [
    ("seven", "returned 7.0 as the probability of class 'b' in row 2 (id "),
    ("nan", "returned nan as the probability of class 'a' in row 0"),
    ("shape", "probabilities of shape ("),
    ("strings", "probabilities that are not numbers"),
])
def test_probabilities_checked_at_the_trainer_boundary(toy_pm, toy_bench, tmp_path: Path, mode: str, needle: str) -> None:
    import micro_bench
    from micro_bench.errors import PluginError
    from toy_plugin import TOY_BENCH

    toy_pm.register(_LyingPlugin(), name="liar_plugin")
    text = TOY_BENCH.replace("trainer: {name: toy_trainer, epochs: 2}", f"trainer: {{name: liar, mode: {mode}}}")
    config = micro_bench.load_benchmark(toy_bench(text), host=toy_pm)
    out = tmp_path / "runs"
    with pytest.raises(PluginError) as info:
        micro_bench.run(config, out, host=toy_pm, progress=False, echo=None)
    message = str(info.value)
    assert needle in message and "trainer 'liar' (plugin liar_plugin)" in message and "no result written" in message
    assert "\n" not in message
    assert not list(out.rglob("result.json"))


def _cli_run(host, *args: str):
    from click.testing import CliRunner

    from micro_bench_commands.cli import cli

    return CliRunner().invoke(cli, ["run", *args, "--no-progress"], obj=host)


def test_copied_benchmark_keeping_the_name_does_not_replace_its_table(toy_pm, toy_bench, tmp_path: Path) -> None:
    from toy_plugin import TOY_BENCH

    out = tmp_path / "runs"
    original = toy_bench(TOY_BENCH)
    assert _cli_run(toy_pm, str(original), "--out", str(out)).exit_code == 0
    table = (out / "toybench" / "table.md").read_text()
    copy = toy_bench(TOY_BENCH.replace("  - {label: noisy, model: {noise: 0.5}}\n", ""), name="copy.yaml")
    for extra in ((), ("--run", "quiet")):
        result = _cli_run(toy_pm, str(copy), "--out", str(out), *extra)
        assert_user_error(result, f"holds the results of {original}", "give", "its own `name:`")
    assert (out / "toybench" / "table.md").read_text() == table
    assert _cli_run(toy_pm, str(original), "--out", str(out), "--run", "quiet").exit_code == 0  # its own file: fine
    assert "noisy" in (out / "toybench" / "table.md").read_text()


def test_copied_benchmark_without_its_reference_says_how_to_fix(toy_pm, tmp_path: Path) -> None:
    from toy_plugin import TOY_BENCH

    (tmp_path / "b.yaml").write_text(TOY_BENCH)  # reference: ref.csv, not copied
    result = invoke("validate", str(tmp_path / "b.yaml"))
    assert_user_error(result, "reference", "copy the reference CSV beside the benchmark file, or remove the "
                                           "`reference:` key")


def test_log_on_cached_runs_says_nothing_was_logged(toy_pm, toy_bench, tmp_path: Path) -> None:
    import micro_bench_loggers.plugin

    toy_pm.register(micro_bench_loggers.plugin)  # provides the tensorboard logger --log names
    out = tmp_path / "runs"
    bench = toy_bench()
    assert _cli_run(toy_pm, str(bench), "--out", str(out)).exit_code == 0
    result = _cli_run(toy_pm, str(bench), "--out", str(out), "--log", "tensorboard")
    assert result.exit_code == 0, result.output
    assert "every run was reused" in result.output and "nothing was logged; add --force" in result.output


def test_written_files_get_the_usual_permissions(toy_pm, toy_bench, tmp_path: Path) -> None:
    import os
    import stat

    mask = os.umask(0o022)
    try:
        out = tmp_path / "runs"
        assert _cli_run(toy_pm, str(toy_bench()), "--out", str(out)).exit_code == 0
        files = [p for p in out.rglob("*") if p.is_file()]
        assert any(p.name == "result.json" for p in files) and any(p.name == "table.md" for p in files)
        wrong = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files
                 if stat.S_IMODE(p.stat().st_mode) != 0o644}
        assert not wrong, wrong
    finally:
        os.umask(mask)


@pytest.fixture
def kaggle_src(tmp_path: Path) -> Path:
    from PIL import Image

    src = tmp_path / "src"
    (src / "train").mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(6)]
    (src / "train.csv").write_text("Id,Target\n" + "".join(f"{i},0 5\n" for i in ids))
    for i in ids:
        for c in ("red", "green", "blue", "yellow"):
            Image.fromarray(rng.integers(0, 255, (512, 512), dtype=np.uint8)).save(src / "train" / f"{i}_{c}.png")
    return src


def test_fifo_channel_file_refused_without_hanging(kaggle_src: Path, tmp_path: Path) -> None:
    import os

    fifo = kaggle_src / "train" / "s3_green.png"
    fifo.unlink()
    os.mkfifo(fifo)
    result = invoke("data", "convert", str(kaggle_src), str(tmp_path / "o.zarr"), "--resolutions", "32")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o.zarr" / "convert_report.json").read_text())
    assert report["written"] == 5 and report["problems"] == {"unreadable": 1}, report
    assert "a FIFO, not an image file" in json.dumps(report)


def test_convert_workers_capped_at_tasks_and_cores(kaggle_src: Path, tmp_path: Path) -> None:
    result = invoke("data", "convert", str(kaggle_src), str(tmp_path / "o.zarr"), "--resolutions", "32",
                    "--workers", "1000", "--block-size", "2")
    assert result.exit_code == 0, result.output
    assert "--workers 1000 capped at " in result.output and "(3 block(s) to convert" in result.output


def test_cap_workers_rule() -> None:
    from micro_bench_dask.limits import cap_workers, usable_cores

    said: list[str] = []
    assert cap_workers(1000, 12, "run(s)", said.append) == min(12, usable_cores())
    assert said and said[0].startswith("--workers 1000 capped at")
    assert cap_workers(None, 3, "run(s)", said.append) == min(3, usable_cores()) and len(said) == 1
    assert cap_workers(1, 12, "run(s)", said.append) == 1 and len(said) == 1


def _cli(host, *args: str):
    from click.testing import CliRunner

    from micro_bench_commands.cli import cli

    return CliRunner().invoke(cli, list(args), obj=host)


@pytest.fixture
def finished(toy_pm, toy_bench, tmp_path: Path) -> Path:
    out = tmp_path / "runs"
    assert _cli_run(toy_pm, str(toy_bench()), "--out", str(out)).exit_code == 0
    result = _cli(toy_pm, "verify", str(out))
    assert result.exit_code == 0 and "2 run folder(s) OK, 0 problem(s)" in result.output, result.output
    return out


def _runs(out: Path) -> list[Path]:
    return sorted(p.parent for p in (out / "toybench").glob("*/result.json"))


def test_verify_runs_edited_metric(toy_pm, finished: Path) -> None:
    run = _runs(finished)[0]
    data = json.loads((run / "result.json").read_text())
    data["metrics"]["accuracy"] = 0.99
    (run / "result.json").write_text(json.dumps(data))
    result = _cli(toy_pm, "verify", str(finished))
    assert_user_error(result, "1 damaged result(s)")
    assert "metric accuracy is 0.99 in result.json but" in result.output and "recomputed from predictions.npz" in result.output


def test_verify_runs_garbage_predictions(toy_pm, finished: Path) -> None:
    run = _runs(finished)[0]
    (run / "predictions.npz").write_bytes(b"garbage" * 10)
    result = _cli(toy_pm, "verify", str(finished))
    assert_user_error(result, "damaged result(s)")
    assert "predictions.npz changed since the run wrote it" in result.output
    assert "predictions.npz: cannot be read" in result.output


def test_verify_runs_rewritten_predictions(toy_pm, finished: Path) -> None:
    run = _runs(finished)[0]
    with np.load(run / "predictions.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["y_score"] = arrays["y_score"] * 0.5
    np.savez_compressed(run / "predictions.npz", **arrays)
    result = _cli(toy_pm, "verify", str(finished))
    assert_user_error(result, "damaged result(s)")
    assert "predictions.npz changed since the run wrote it (SHA-256" in result.output


def test_verify_runs_result_gone_and_index_outside(toy_pm, finished: Path) -> None:
    index_path = finished / "toybench" / "index.json"
    index = json.loads(index_path.read_text())
    runs = [finished / "toybench" / row["key"] for row in index["rows"]]
    (runs[0] / "result.json").unlink()
    index["rows"][1]["key"] = "../../../etc"
    index_path.write_text(json.dumps(index))
    result = _cli(toy_pm, "verify", str(finished))
    assert_user_error(result, "damaged result(s)")
    assert f"names run {runs[0].name}, which has no result.json" in result.output
    assert "names '../../../etc', not a run key" in result.output
    fixed = _cli(toy_pm, "verify", str(finished), "--fix")
    assert "dropped 2 row(s) without a result" in fixed.output
    assert (runs[1] / "result.json").is_file()  # a finished result is never deleted
    assert _cli(toy_pm, "verify", str(finished)).exit_code == 0
