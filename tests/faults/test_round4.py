"""Issue 28, the items left by round 3, each a named test: ``verify RUNS`` on results written before
digests existed (reported as unchecked, never OK; ``--fix`` records nothing); a batch of one with a
``timm:`` model (refused at ``validate``; a trailing batch of one dropped in training, as fastai does).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import assert_user_error, invoke


def _cli(host, *args: str):
    from click.testing import CliRunner

    from micro_bench_commands.cli import cli

    return CliRunner().invoke(cli, list(args), obj=host)


@pytest.fixture
def old_results(toy_pm, toy_bench, tmp_path: Path) -> Path:
    """Two finished toy runs whose result.json lost its ``files`` digests (as results written before
    runs recorded them)."""
    out = tmp_path / "runs"
    assert _cli(toy_pm, "run", str(toy_bench()), "--out", str(out), "--no-progress").exit_code == 0
    for path in (out / "toybench").glob("*/result.json"):
        data = json.loads(path.read_text())
        assert isinstance(data.pop("files"), dict)
        path.write_text(json.dumps(data))
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_verify_results_without_digests_are_unchecked_not_ok(toy_pm, old_results: Path) -> None:
    result = _cli(toy_pm, "verify", str(old_results))
    assert result.exit_code == 0, result.output
    unchecked = [line for line in result.output.splitlines() if line.startswith("unchecked: ")]
    assert len(unchecked) == 2 and all("its files cannot be checked" in line for line in unchecked), result.output
    assert "0 run folder(s) OK, 2 unchecked (no digests), 0 problem(s)" in result.output
    strict = _cli(toy_pm, "verify", str(old_results), "--strict")
    assert_user_error(strict, "2 result(s) whose files cannot be checked")


def test_verify_without_digests_still_recomputes_metrics(toy_pm, old_results: Path) -> None:
    run = sorted(p.parent for p in (old_results / "toybench").glob("*/result.json"))[0]
    data = json.loads((run / "result.json").read_text())
    data["metrics"]["accuracy"] = 0.99
    (run / "result.json").write_text(json.dumps(data))
    result = _cli(toy_pm, "verify", str(old_results))
    assert_user_error(result, "1 damaged result(s)")
    assert "metric accuracy is 0.99 in result.json but" in result.output
    assert "1 unchecked (no digests), 1 problem(s)" in result.output


def test_verify_fix_records_no_digests_it_cannot_vouch_for(toy_pm, old_results: Path) -> None:
    before = _files(old_results)
    result = _cli(toy_pm, "verify", str(old_results), "--fix")
    assert result.exit_code == 0, result.output
    assert result.output.count("not fixed: ") == 2 and "no digests recorded" in result.output
    assert _files(old_results) == before  # nothing written, in particular no `files` in result.json
    assert "2 unchecked" in _cli(toy_pm, "verify", str(old_results)).output


def test_verify_fresh_results_are_ok(toy_pm, toy_bench, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    assert _cli(toy_pm, "run", str(toy_bench()), "--out", str(out), "--no-progress").exit_code == 0
    result = _cli(toy_pm, "verify", str(out), "--strict")
    assert result.exit_code == 0 and "2 run folder(s) OK, 0 problem(s)" in result.output, result.output
    assert "unchecked" not in result.output


TIMM_BENCH = """\
version: 1
name: batch_one
seed: 1
dataset: {{name: hpa_synth, n: {n}, resolution: 32}}
split: {{method: multilabel_stratified, fractions: [0.5, 0.25, 0.25], seed: 0}}
model: {{name: "timm:resnet10t", pretrained: false{head}}}
trainer: {{name: torch, batch_size: {batch}, lr: 0.01, freeze_epochs: 0, epochs: 1, device: cpu, threads: 1,
          epoch_metrics: []{micro}}}
{sampler}loss: bce
scheduler: null
tta: null
evaluate: {{split: val, threshold: 0.5}}
metrics: [f1_macro]
"""


@pytest.mark.parametrize("head", ["", ", head: fastai"])
def test_timm_model_with_a_batch_of_one_is_refused_at_validate(tmp_path: Path, head: str) -> None:
    bench = tmp_path / "b.yaml"
    bench.write_text(TIMM_BENCH.format(n=24, batch=1, head=head, sampler="", micro=""))
    assert_user_error(invoke("validate", str(bench)), "trainer.batch_size: expected an integer >= 2, got int 1",
                      "model.min_batch is 2")


def test_timm_model_micro_batch_of_one_is_refused_at_validate(tmp_path: Path) -> None:
    bench = tmp_path / "b.yaml"
    bench.write_text(TIMM_BENCH.format(n=24, batch=4, head="", sampler="", micro=", micro_batch_size: 1"))
    assert_user_error(invoke("validate", str(bench)), "trainer.micro_batch_size: expected an integer >= 2")


def test_ordered_training_batches_drop_a_trailing_batch_of_one() -> None:
    """Training batches (a seed; a sampler's draw is an ``order`` with the epoch's seed, as the trainer
    passes it): 9 positions in batches of 4 give 4 + 4 (the trailing one dropped, as fastai's
    ``drop_last``); 10 give 4 + 4 + 2; evaluation (no seed) keeps every sample."""
    import torch

    from micro_bench_torch.inputs import Batches, LoaderSettings, batch_loader

    def sizes(n: int, **kw) -> list[int]:
        data = Batches(lambda rows: np.zeros((len(rows), 1, 2, 2), np.uint8), np.arange(n), np.zeros((n, 2), bool))
        loader = batch_loader(data, LoaderSettings(4, 0, 1, torch.device("cpu")), **kw)
        return [len(batch[0]) for batch in loader]

    assert sizes(9, shuffle_seed=5, order=np.arange(9)[::-1]) == [4, 4]
    assert sizes(10, shuffle_seed=5, order=np.arange(10)) == [4, 4, 2]
    assert sizes(9, shuffle_seed=3) == [4, 4]
    assert sizes(9, shuffle_seed=None) == [4, 4, 1]


@pytest.mark.slow
def test_timm_model_trains_with_a_sampler_draw_ending_in_one(tmp_path: Path) -> None:
    """17 training samples drawn by the multilabel sampler in batches of 8: the trailing batch of one
    is dropped (it met BatchNorm and raised torch's ValueError before)."""
    bench = tmp_path / "b.yaml"
    bench.write_text(TIMM_BENCH.format(n=24, batch=8, head=", head: fastai", sampler="sampler: {name: multilabel}\n", micro=""))
    result = invoke("run", str(bench), "--out", str(tmp_path / "runs"), "--no-progress")
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "runs" / "batch_one").glob("*/result.json")
    result = json.loads(path.read_text())
    assert result["counts"]["n"]["train"] == 17 and "sampled_class_freq" in result["history"]
    assert result["history"]["lr_iter"] == [0.01, 0.01]  # two steps: 8 + 8, the one left dropped
    assert np.isfinite(result["metrics"]["f1_macro"])


# --- data verify of a store at a URL (docs/scaling.md) ---------------------------------------------


@pytest.fixture(scope="module")
def pristine_store(tmp_path_factory) -> Path:
    from micro_bench_hpa.synth.generate import generate_store

    return generate_store(tmp_path_factory.mktemp("s") / "s.zarr", n=40, resolutions=(16,), seed=2)


def _locations(store: Path) -> list[str]:
    """The store as a path, a ``file://`` URL (read as a local folder) and a ``local://`` URL (read
    through fsspec as any remote store is: the remote code path on a local folder)."""
    return [str(store), f"file://{store}", f"local://{store}"]


@pytest.mark.parametrize("how", ["path", "file", "remote"])
def test_data_verify_at_a_url_checks_sealed_files_by_crc(pristine_store: Path, tmp_path: Path, how: str) -> None:
    """An edited labels chunk still decodes; only the CRC-32C recorded at seal time finds it, at a
    path, a file:// URL and through fsspec (remote)."""
    import shutil

    import zarr

    store = Path(shutil.copytree(pristine_store, tmp_path / "s.zarr"))
    given = dict(zip(["path", "file", "remote"], _locations(store), strict=True))[how]
    result = invoke("data", "verify", given)
    assert result.exit_code == 0 and "OK (40 written samples" in result.output, result.output
    group = zarr.open_group(store, mode="r+")
    labels = group["labels"][:]
    labels[3, 4] = ~labels[3, 4]
    group["labels"][:] = labels
    result = invoke("data", "verify", given)
    assert_user_error(result, "structural problem")
    assert "problem: file labels/c/0/0 changed since the store was written" in result.output, result.output
    (store / "ids" / "c" / "0").unlink()
    result = invoke("data", "verify", given)
    assert "problem: file ids/c/0 recorded in the manifest is missing" in result.output, result.output


@pytest.mark.parametrize("how", ["path", "file", "remote"])
def test_data_verify_at_a_url_checks_shards(pristine_store: Path, tmp_path: Path, how: str) -> None:
    """A shard cut short is a changed shard (its size differs from the manifest) and its samples
    damaged; a deleted shard is missing; at a path, file:// and remote alike."""
    import shutil

    store = Path(shutil.copytree(pristine_store, tmp_path / "s.zarr"))
    given = dict(zip(["path", "file", "remote"], _locations(store), strict=True))[how]
    shard = store / "images" / "16" / "c" / "1" / "0" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[:-100])
    result = invoke("data", "verify", given, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])
    assert report["changed_shards"] == ["images/16/c/1/0/0/0"] and report["damaged"], report
    (store / "images" / "16" / "c" / "0" / "0" / "0" / "0").unlink()
    result = invoke("data", "verify", given, "--json")
    report = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])
    assert report["missing_shards"] == ["images/16/c/0/0/0/0"], report
