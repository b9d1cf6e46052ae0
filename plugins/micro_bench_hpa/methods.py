"""Names the hpa plugin's entry module and its ``data`` commands share (standard library only)."""

from __future__ import annotations

__all__ = ["SPLIT_METHODS"]

#: ``split.method`` values the HPA datasets implement (micro_bench_hpa.split.METHODS; declared
#: here so that ``validate`` checks them without importing the data code).
SPLIT_METHODS = ["multilabel_stratified", "random"]
