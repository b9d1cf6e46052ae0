"""micro-bench bundled plugin: tta."""
