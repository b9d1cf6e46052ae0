"""Entry module of the bundled ``micro_bench_schedulers`` plugin: ``sgdr``, ``constant``, ``one_cycle``.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, Param, hookimpl

__all__ = ["micro_bench_schedulers"]


@hookimpl
def micro_bench_schedulers() -> list[ComponentSpec]:
    """The bundled learning-rate schedules (per-iteration multipliers of each group's base rate)."""
    return [
        ComponentSpec(
            "sgdr",
            "micro_bench_schedulers.sgdr:SGDR",
            "Cosine annealing to 0 with warm restarts; cycle_len, cycle_mult, cycles, warmup",
            {
                "paper": "Loshchilov & Hutter: SGDR: Stochastic Gradient Descent with Warm "
                "Restarts, ICLR 2017 (arXiv:1608.03983)",
                "warmup": "fastai 0.7 CosAnneal: lr/100 for the first 1/20 of the first cycle",
                "params": {"cycle_len": Param("int", ge=1), "cycle_mult": Param("int", ge=1),
                           "cycles": Param("int", ge=1), "warmup": Param("bool")},
            },
        ),
        ComponentSpec(
            "constant",
            "micro_bench_schedulers.constant:Constant",
            "Constant learning rate (each group keeps its base rate)",
            {"params": {"epochs": Param("int", ge=1, nullable=True)}},
        ),
        ComponentSpec(
            "one_cycle",
            "micro_bench_schedulers.one_cycle:OneCycle",
            "One-cycle policy with cosine annealing (as torch OneCycleLR, no momentum cycling)",
            {
                "paper": "Smith & Topin: Super-Convergence, 2018 (arXiv:1708.07120)",
                "conformance_params": {"epochs": 2},  # a cycle needs an end: epochs is required
                "params": {"epochs": Param("int", ge=1), "pct_start": Param("float", gt=0, lt=1),
                           "div_factor": Param("float", ge=1), "final_div_factor": Param("float", ge=1)},
            },
        ),
    ]
