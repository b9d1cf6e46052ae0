"""The input size check of ``timm:`` models at ``validate``, before any data or weights are touched.

A patch-embedding model built with a strict ``img_size`` (ViT, Swin, ...) accepts one input size;
at another resolution it used to fail only at the first forward pass of ``run``. Here the model
is built on the meta device (no memory, no weights) with the row's timm keywords, and its fixed
size is compared with the side the dataset will serve: the row's ``dataset.resolution`` after the
profile and ``--set`` overrides (the torch trainer and its transforms do not resize). A dataset
whose resolution the config leaves to the dataset's default is checked at the first forward pass,
with the same message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["check_input_size", "model_input_size"]

#: ``timm_model``'s own parameters (the rest of a ``timm:`` model's parameters go to timm).
_OWN = frozenset({"num_classes", "in_chans", "pretrained", "stem_init", "dropout", "seed", "head"})


def model_input_size(arch: str, params: Mapping[str, Any]) -> tuple[int, int] | None:
    """The one ``(H, W)`` the timm model ``arch`` built with the ``timm:`` parameters ``params``
    accepts, or None when any size works (or timm refuses to build it: reported by ``run``)."""
    timm_kwargs = {k: v for k, v in params.items() if k not in _OWN}
    return _input_size(arch, json.dumps(timm_kwargs, sort_keys=True, default=str))


@functools.lru_cache(maxsize=64)
def _input_size(arch: str, timm_kwargs: str) -> tuple[int, int] | None:
    import timm
    import torch

    from micro_bench_resnet.model import fixed_input_size

    try:
        with torch.device("meta"):
            net = timm.create_model(arch, pretrained=False, **json.loads(timm_kwargs))
    except Exception:  # noqa: BLE001 - a refused keyword value: the factory reports it in its own words
        return None
    return fixed_input_size(net)


def check_input_size(model: str, params: Mapping[str, Any], resolution: Any) -> str | None:
    """The one-line problem of the ``timm:`` model ``model`` (with ``params``) at the dataset's
    ``resolution`` (R x R images), or None when it fits or the resolution is not a number."""
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        return None
    size = model_input_size(model.removeprefix("timm:"), params)
    if size is None or size == (resolution, resolution):
        return None
    from micro_bench_resnet.model import input_size_message

    return input_size_message(model, size, (resolution, resolution), source=f"dataset.resolution {resolution}")
