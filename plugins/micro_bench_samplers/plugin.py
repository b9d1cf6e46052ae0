"""Entry module of the bundled samplers plugin; numpy loads when a sampler is built."""

from __future__ import annotations

from micro_bench import ComponentSpec, Param, hookimpl

__all__ = ["micro_bench_samplers"]


@hookimpl
def micro_bench_samplers() -> list[ComponentSpec]:
    """``multilabel``: oversample by the rarest label of each sample (or the mean over its labels),
    optionally undersample samples of the commonest class alone."""
    return [
        ComponentSpec(
            "multilabel",
            "micro_bench_samplers.multilabel:MultiLabelSampler",
            "Draws train samples with weights from their labels' inverse frequency (rarest or mean), "
            "optional undersampling of the commonest class",
            {"paper": "future work of Zhao & Tang (oversample rare / undersample common classes)",
             "params": {"mode": Param("str", choices=("rarest", "mean")), "power": Param("float", ge=0),
                        "undersample": Param("float", gt=0, le=1), "epoch_size": Param("int", ge=1, nullable=True)}},
        )
    ]
