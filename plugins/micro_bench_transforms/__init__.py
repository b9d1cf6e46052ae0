"""micro-bench bundled plugin: transforms (training augmentation, also used by random-view TTA)."""
