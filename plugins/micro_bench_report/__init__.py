"""micro-bench bundled plugin: results as a tidy table (`micro-bench results`, and
:func:`results_frame` for pandas) and a static HTML report (`micro-bench report`)."""

from micro_bench_report.tidy import results_frame

__all__ = ["results_frame"]
