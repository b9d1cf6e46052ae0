"""Entry module of the bundled ``micro_bench_losses`` plugin: ``bce`` and ``focal``.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings, so
listing the losses never imports torch.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, Param, hookimpl

__all__ = ["micro_bench_losses"]

_FOCAL_PAPER = "Lin, Goyal, Girshick, He, Dollar: Focal Loss for Dense Object Detection, ICCV 2017"


#: Per-class positive weights, shared by ``bce`` and ``focal``.
_WEIGHTS = {
    "pos_weight": Param(("str", "list[float]"), choices=("inverse_frequency", "sqrt_inverse", "effective_number"),
                        gt=0, min_length=1, nullable=True, doc="a rule's name or one weight per class"),
    "beta": Param("float", gt=0, lt=1),
    "max_weight": Param("float", ge=1, nullable=True),
}

@hookimpl
def micro_bench_losses() -> list[ComponentSpec]:
    """The bundled losses; both are the one focal formula (``bce`` is ``focal(gamma=0)``)."""
    return [
        ComponentSpec(
            "bce",
            "micro_bench_losses.focal:bce",
            "Binary cross-entropy on logits, mean over all elements (= focal with gamma 0)",
            {"paper": _FOCAL_PAPER, "params": _WEIGHTS},
        ),
        ComponentSpec(
            "focal",
            "micro_bench_losses.focal:FocalLoss",
            "Sigmoid focal loss (gamma, optional alpha), mean over all elements",
            {"paper": _FOCAL_PAPER, "params": {"gamma": Param("float", ge=0), "alpha": Param("float", ge=0, le=1, nullable=True),
                                               **_WEIGHTS}},
        ),
    ]
