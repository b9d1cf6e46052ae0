"""micro-bench bundled plugin: the paper's tables (ours, the paper's, delta) as Markdown, CSV and LaTeX,
written after each `micro-bench run` and by `micro-bench tables`."""
