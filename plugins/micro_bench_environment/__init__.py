"""micro-bench bundled plugin: ``environment.json`` in every computed run's folder."""
