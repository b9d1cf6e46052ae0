"""micro-bench bundled plugin: model selection on validation results (the paper's Table V)."""
