"""Entry module of the bundled ``hpa`` plugin: the HPA datasets and the ``data`` commands.

Imports only the standard library and micro_bench; factories are lazy strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from micro_bench import ComponentSpec, Param, hookimpl
from micro_bench.params import seed_param
from micro_bench_hpa.methods import SPLIT_METHODS

if TYPE_CHECKING:  # pragma: no cover
    import click


#: Which pixels the channel statistics come from: the largest stored resolution, the served one,
#: or a stored resolution (checked against the store when it is opened).
_STATS = Param("int", ge=1, le=65536, also=("largest", "served"), doc="largest, served or a stored resolution")


@hookimpl
def micro_bench_datasets() -> list[ComponentSpec]:
    """The real HPA store, any converted store (``images``) and the embedded synthetic HPA-like dataset."""
    return [
        ComponentSpec(
            "hpa",
            "micro_bench_hpa.dataset:hpa",
            "Human Protein Atlas Kaggle 2018 (4 ch, 28 classes), from `micro-bench data convert`",
            {"paper": "Zhao & Tang", "source": "proteinatlas.org, CC BY-SA 3.0", "paths": ["store"],
             "split_methods": SPLIT_METHODS,
             "conformance_skip": "needs a converted store (data/hpa.zarr); hpa_synth checks the same class",
             "params": {"store": Param("str", doc="a store path or URL"), "resolution": Param("int", ge=8, le=8192),
                        "storage_options": Param("mapping", nullable=True), "stats_resolution": _STATS, "external": Param("str", nullable=True)}},
        ),
        ComponentSpec(
            "images",
            "micro_bench_hpa.dataset:images",
            "Your own images: any store from `micro-bench data convert` (any channels, classes, 8/16-bit)",
            {"paths": ["store"], "split_methods": SPLIT_METHODS,
             # a tiny 16-bit store converted in a temporary folder (uint8: images_params("uint8"))
             "conformance_params": "micro_bench_hpa.conformance:images_params",
             "params": {"store": Param("str", doc="a store path or URL"), "resolution": Param("int", ge=1, le=65536),
                        "storage_options": Param("mapping", nullable=True), "stats_resolution": _STATS}},
        ),
        ComponentSpec(
            "hpa_synth",
            "micro_bench_hpa.synth.dataset:hpa_synth",
            "Synthetic HPA-like cells with real HPA label sets (embedded default, no download)",
            {"conformance_params": {"n": 60, "resolution": 32}, "split_methods": SPLIT_METHODS,
             "params": {"n": Param("int", ge=1, le=10_000_000), "resolution": Param("int", ge=8, le=8192),
                        "seed": seed_param("the rendering and the label draws"),
                        "difficulty": Param("float", ge=0, le=1), "cache_dir": Param("str", nullable=True),
                        "external": Param("mapping", nullable=True, doc="n, seed and optionally difficulty"),
                        "stats_resolution": _STATS}},
            check="micro_bench_hpa.synth.dataset:check_hpa_synth",
        ),
    ]


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench data convert|info|synth|split|stats|verify`` and ``micro-bench init``."""
    from micro_bench_hpa.cli import data, init

    cli.add_command(data)
    cli.add_command(init)


def benchmarks_dir() -> Path:
    """The paper's benchmark files: shipped in the wheel as ``micro_bench_hpa/benchmarks/``
    (with ``reference/``), or, in a source checkout, the repository's ``benchmarks/``."""
    packaged = Path(__file__).resolve().parent / "benchmarks"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "benchmarks"


@hookimpl
def micro_bench_benchmarks() -> list[Path]:
    """``hpa_table1`` ... ``hpa_table5``: the paper's Tables I-V; ``hpa_beyond``: its future work."""
    return [*sorted(benchmarks_dir().glob("hpa_table*.yaml")), benchmarks_dir() / "hpa_beyond.yaml"]
