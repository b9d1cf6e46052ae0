"""A fixed-size ``timm:`` model (a patch-embedding ViT with a strict ``img_size``) at another
``dataset.resolution`` is refused by ``micro-bench validate`` (so by ``run`` before any work), in one
line naming the row's ``model`` key and the fix; the size it reads is the one the built model
enforces at its first forward pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from click.testing import CliRunner

from micro_bench.errors import ParameterError
from micro_bench_commands.cli import cli
from micro_bench_resnet.inputsize import check_input_size, model_input_size
from micro_bench_resnet.model import timm_model

#: timm's own test ViT with a strict 160 x 160 input (0.9 M parameters).
VIT = "test_vit3"

BENCH = """version: 1
name: sizes
title: sizes
seed: 0
dataset: {{name: hpa, store: {store}, resolution: 32}}
split: {{method: multilabel_stratified, fractions: [0.6, 0.2, 0.2], seed: 0}}
model: {{name: "timm:test_resnet"}}
trainer: {{name: torch, epochs: 1, batch_size: 8}}
loss: bce
scheduler: null
tta: null
evaluate: {{split: val}}
metrics: [f1_macro]
runs:
  - {{label: resnet}}
  - {{label: vit 32, model: {{name: "timm:{vit}", img_size: 32}}}}
  - {{label: vit dynamic, model: {{name: "timm:{vit}", dynamic_img_size: true}}}}
{extra}profiles:
  tiny: {{dataset: {{resolution: 16}}}}
"""


def _write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "sizes.yaml"
    # a store that does not exist: validate must not open data to find the problem
    path.write_text(BENCH.format(store=tmp_path / "missing.zarr", vit=VIT, extra=extra), encoding="utf-8")
    return path


def test_the_size_read_on_the_meta_device_is_the_one_the_built_model_enforces() -> None:
    assert model_input_size(VIT, {}) == (160, 160) == timm_model(VIT, 3, in_chans=4).input_size
    assert model_input_size(VIT, {"img_size": 32, "head": "fastai", "dropout": 0.5}) == (32, 32)
    assert model_input_size(VIT, {"dynamic_img_size": True}) is None
    assert model_input_size("test_resnet", {}) is None and model_input_size("test_vit", {}) is None
    net = timm.create_model(VIT)  # timm's own model refuses the size too
    with pytest.raises(AssertionError):
        net(torch.zeros(1, 3, 32, 32))
    problem = check_input_size(f"timm:{VIT}", {}, 32)
    assert problem == (f"model 'timm:{VIT}' takes 160x160 inputs but dataset.resolution 32 gives 32x32; set "
                       "model.img_size: 32 (or dynamic_img_size: true where the model has it)")
    with pytest.raises(ParameterError) as info:  # the run-time check says the same, with its source
        timm_model(VIT, 3, in_chans=4)(torch.zeros(2, 4, 32, 32))
    assert str(info.value) == problem.replace("dataset.resolution 32", "the run")
    assert check_input_size(f"timm:{VIT}", {}, 160) is None and check_input_size(f"timm:{VIT}", {}, None) is None


def test_validate_refuses_a_fixed_size_model_at_another_resolution_naming_the_row(tmp_path: Path) -> None:
    ok = CliRunner().invoke(cli, ["validate", str(_write(tmp_path))])
    assert ok.exit_code == 0, ok.output
    assert "OK (3 runs" in ok.output

    bad = _write(tmp_path, extra=f'  - {{label: vit, model: {{name: "timm:{VIT}"}}}}\n')
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {bad}: runs[3].model: model 'timm:{VIT}' takes 160x160 inputs but dataset.resolution 32 gives "
        "32x32; set model.img_size: 32 (or dynamic_img_size: true where the model has it)")

    # The resolution after the profile: img_size 32 does not fit the tiny profile's 16 px.
    tiny = CliRunner().invoke(cli, ["validate", str(_write(tmp_path)), "--profile", "tiny"])
    assert tiny.exit_code == 1
    assert f"runs[1].model: model 'timm:{VIT}' takes 32x32 inputs but dataset.resolution 16 gives 16x16; " \
           "set model.img_size: 16" in tiny.output
    assert len(tiny.output.strip().splitlines()) == 1
