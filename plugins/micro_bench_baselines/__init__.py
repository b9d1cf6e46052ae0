"""micro-bench bundled plugin: baselines."""
