"""micro-bench bundled plugin: losses."""
