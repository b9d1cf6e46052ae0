"""Entry module (entry point ``micro_bench: asl``): standard library and micro_bench only.

The factory is a lazy ``"module:callable"`` string, so ``micro-bench list`` never imports torch.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, Param, hookimpl

__all__ = ["micro_bench_losses"]


@hookimpl
def micro_bench_losses() -> list[ComponentSpec]:
    """The ``asl`` loss."""
    return [
        ComponentSpec(
            "asl",
            "micro_bench_asl.loss:AsymmetricLoss",
            "Asymmetric loss: focusing gamma_neg/gamma_pos and probability shifting clip (Ridnik et al. 2021)",
            extra={
                "paper": "Ridnik et al., Asymmetric Loss for Multi-Label Classification, ICCV 2021",
                "reduction": "mean over all elements (the paper sums)",
                # checked by `micro-bench validate` and `run` before the loss is built
                "params": {"gamma_neg": Param("float", ge=0), "gamma_pos": Param("float", ge=0),
                           "clip": Param("float", ge=0, lt=1)},
            },
        )
    ]
