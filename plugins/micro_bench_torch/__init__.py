"""micro-bench bundled plugin: the ``torch`` trainer (Adam, layer groups, freezing, checkpoints) and lr_find."""
