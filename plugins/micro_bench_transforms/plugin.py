"""Entry module of the bundled ``micro_bench_transforms`` plugin: ``fastai`` and ``none``.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, Param, hookimpl

__all__ = ["micro_bench_transforms"]


@hookimpl
def micro_bench_transforms() -> list[ComponentSpec]:
    """The bundled training augmentations (config key ``transform``)."""
    return [
        ComponentSpec(
            "fastai",
            "micro_bench_transforms.fastai:FastaiAugment",
            "fastai 0.7's random rotation (reflect padding), lighting and dihedral/horizontal flips, batched",
            {"paper": "defaults: fastai 0.7 transforms_top_down, RandomRotate(10), RandomLighting(0.05, 0.05), "
                      "RandomDihedral; the paper benchmarks: max_rotate 30, the kernel [13]'s RandomRotate(30) "
                      "(docs/reproducing.md, 'Augmentation')",
             "params": {"max_rotate": Param("float", ge=0, le=180), "p_rotate": Param("float", ge=0, le=1),
                        "lighting_b": Param("float", ge=0, le=1), "lighting_c": Param("float", ge=0, le=0.99),
                        "dihedral": Param("bool"), "p_flip": Param("float", ge=0, le=1)}},
            default=True,  # what a run gets without a `transform:` key (`transform: null`: none)
        ),
        ComponentSpec("none", "micro_bench_transforms.identity:NoAugment", "No augmentation: the batch unchanged"),
    ]
