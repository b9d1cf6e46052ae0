"""`pretrained: imagenet` without a network: one line and a way out, in well under 5 s."""

from __future__ import annotations

import os
import time

import pytest
import timm  # imported by the model module before the check runs; not timed here

from micro_bench.errors import ComponentError
from micro_bench_resnet import hub


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import huggingface_hub.constants as hfc

    monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


def test_offline_without_cached_weights_fails_fast_with_directions(empty_caches, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ComponentError) as info:
        hub.check_imagenet_weights("resnet18.tv_in1k")
    assert time.perf_counter() - t0 < 5
    message = str(info.value)
    assert "\n" not in message and "--set model.pretrained=FILE" in message
    assert "resnet18.tv_in1k" in message and "pretrained=false" in message


def test_the_model_factory_checks_before_timm_downloads(empty_caches, monkeypatch):
    from micro_bench_resnet.model import resnet18_4ch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ComponentError, match="--set model.pretrained=FILE"):
        resnet18_4ch(num_classes=28, pretrained="imagenet")


def test_cached_weights_need_no_network(empty_caches, monkeypatch):
    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    url = timm.models.get_pretrained_cfg("resnet18.tv_in1k").url
    target = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    os.makedirs(os.path.dirname(target))
    open(target, "wb").close()
    hub.check_imagenet_weights("resnet18.tv_in1k")  # no error: timm finds the file offline


def test_one_quick_connection_attempt_gives_up_within_its_timeout(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    t0 = time.perf_counter()
    assert hub.hub_reachable(host="unreachable.invalid", timeout=1.0) is False
    assert time.perf_counter() - t0 < 2
