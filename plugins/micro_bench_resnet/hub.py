"""Fail fast when ``pretrained: imagenet`` cannot be downloaded.

timm fetches ImageNet weights from the Hugging Face hub; without a network that takes about 50 s
of retries and ends in a long traceback. :func:`check_imagenet_weights` answers in well under
5 s instead: the weights are already cached (fine, timm loads them offline), the hub is switched
off (``HF_HUB_OFFLINE``), or one quick connection to the hub fails -> one line saying how to give
a local file.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

from micro_bench.errors import ComponentError

__all__ = ["check_imagenet_weights", "hub_reachable"]

_HF_FILES = ("model.safetensors", "pytorch_model.bin")
_TRUE = {"1", "on", "yes", "true"}


def _cached(arch: str) -> bool:
    """Are ``arch``'s pretrained weights in the Hugging Face or torch hub cache?"""
    import timm

    cfg = timm.models.get_pretrained_cfg(arch)
    if cfg is None:
        return False
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo = cfg.hf_hub_id.split("@")[0]
        if any(isinstance(try_to_load_from_cache(repo, f), str) for f in _HF_FILES):
            return True
    if cfg.url:
        import torch

        name = os.path.basename(urlparse(str(cfg.url)).path)
        return os.path.isfile(os.path.join(torch.hub.get_dir(), "checkpoints", name))
    return False


def hub_reachable(host: str = "huggingface.co", port: int = 443, timeout: float = 3.0) -> bool:
    """One connection attempt (name lookup included) that gives up after ``timeout`` seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE:
        return False
    ok: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            ok.append(False)

    worker = threading.Thread(target=attempt, daemon=True)  # getaddrinfo has no timeout of its own
    worker.start()
    worker.join(timeout)
    return bool(ok and ok[0])


def check_imagenet_weights(arch: str) -> None:
    """Raise a one-line :class:`ComponentError` if ``arch``'s ImageNet weights cannot be had.

    Args:
        arch: the timm name, e.g. ``"resnet50.tv_in1k"``.
    """
    if _cached(arch) or hub_reachable():
        return
    raise ComponentError(
        f"model {arch!r}: pretrained: imagenet needs the {arch} weights from the Hugging Face hub, "
        "which cannot be reached (offline) and are not cached; give a local file with "
        "--set model.pretrained=FILE (a 3-channel ImageNet state dict), or train from scratch "
        "with --set model.pretrained=false"
    )
