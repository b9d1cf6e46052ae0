"""Entry module of the bundled ``micro_bench_losses`` plugin: ``bce`` and ``focal``.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings, so
listing the losses never imports torch.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, hookimpl

__all__ = ["micro_bench_losses"]

_FOCAL_PAPER = "Lin, Goyal, Girshick, He, Dollar: Focal Loss for Dense Object Detection, ICCV 2017"


@hookimpl
def micro_bench_losses() -> list[ComponentSpec]:
    """The bundled losses; both are the one focal formula (``bce`` is ``focal(gamma=0)``)."""
    return [
        ComponentSpec(
            "bce",
            "micro_bench_losses.focal:bce",
            "Binary cross-entropy on logits, mean over all elements (= focal with gamma 0)",
            {"paper": _FOCAL_PAPER},
        ),
        ComponentSpec(
            "focal",
            "micro_bench_losses.focal:FocalLoss",
            "Sigmoid focal loss (gamma, optional alpha), mean over all elements",
            {"paper": _FOCAL_PAPER},
        ),
    ]
