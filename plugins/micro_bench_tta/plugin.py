"""Entry module of the bundled ``micro_bench_tta`` plugin: ``none``, ``flips`` and ``random``.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, Param, hookimpl
from micro_bench.params import seed_param

__all__ = ["micro_bench_tta_policies"]


#: How every bundled policy combines its views' predictions.
_REDUCE = {"reduce": Param("str", choices=("mean", "max")), "blend": Param("float", ge=0, le=1, nullable=True)}

@hookimpl
def micro_bench_tta_policies() -> list[ComponentSpec]:
    """The bundled test-time augmentation policies; each takes ``reduce`` and ``blend``."""
    return [
        ComponentSpec("none", "micro_bench_tta.identity:NoTTA", "No test-time augmentation: the plain view only",
                      {"params": _REDUCE}),
        ComponentSpec(
            "flips",
            "micro_bench_tta.dihedral:Flips",
            "The 8 dihedral (D4) views: identity, rot90 x3 and their horizontal flips",
            {"params": _REDUCE},
        ),
        ComponentSpec(
            "random",
            "micro_bench_tta.random_views:RandomViews",
            "The plain view plus n views drawn with the run's training transform",
            {"paper": "fastai 0.7 learn.TTA (n_aug=4, mean of the plain and augmented predictions)",
             "params": {"n": Param("int", ge=1, le=1024), "seed": seed_param("the views' draws"), **_REDUCE}},
        ),
    ]
