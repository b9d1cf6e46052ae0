"""One run on two processes with torchrun (DDP over gloo on the CPU): every rank trains, rank 0
alone prints, writes the results and fires the hooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

BENCH = """\
version: 1
name: ddp_check
seed: 0
dataset: {name: hpa_synth, n: 80, resolution: 32}
model: {name: resnet18_4ch, pretrained: false}
trainer: {name: torch, batch_size: 16, micro_batch_size: 4, lr: 0.01, freeze_epochs: 1, epochs: 1}
loss: bce
scheduler: constant
evaluate: {split: val, threshold: 0.5}
metrics: [roc_auc_macro, f1_micro]
runs:
  - {label: BCE}
"""


@pytest.mark.slow
def test_two_ranks_train_one_result(tmp_path):
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    (tmp_path / "ddp.yaml").write_text(BENCH)
    env = {**os.environ, "MICRO_BENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2",  # --standalone: a free port (suites run side by side)
         "-m", "micro_bench", "run",
         str(tmp_path / "ddp.yaml"), "--out", str(tmp_path / "runs"), "--no-progress"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr  # progress lines are log records (stderr), the table stdout
    assert output.count("finished 'BCE'") == 1  # rank 0 alone reports
    assert output.count("[run 1/1] BCE") == 1
    index = json.loads((tmp_path / "runs" / "ddp_check" / "index.json").read_text())
    run_dir = tmp_path / "runs" / "ddp_check" / index["rows"][0]["key"]
    result = json.loads((run_dir / "result.json").read_text())
    assert 0.0 <= result["metrics"]["roc_auc_macro"] <= 1.0
    assert len(result["history"]["epoch"]) == 2
    # batch_size is the effective batch: 16 over 2 processes, 8 each, in 2 accumulated chunks;
    # the ranks compared their parameters at the end and found them identical.
    assert result["history"]["ddp"] == {"world_size": 2, "process_batch": 8, "accumulate": 2,
                                        "sync_bn": False, "weights_agree": True}
    epochs = [line for line in (run_dir / "log.txt").read_text().splitlines() if " epoch " in line]
    assert len(epochs) == 2  # one line per epoch, not one per rank
    assert (run_dir / "model" / "model.pt").is_file()
