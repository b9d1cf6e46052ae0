"""micro-bench bundled plugin: schedulers."""
