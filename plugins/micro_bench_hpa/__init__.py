"""micro-bench bundled plugin: hpa."""
