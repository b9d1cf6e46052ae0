"""micro-bench bundled plugin: torch."""
