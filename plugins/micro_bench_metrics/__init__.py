"""micro-bench bundled plugin: metrics."""
