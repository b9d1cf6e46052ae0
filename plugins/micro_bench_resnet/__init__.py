"""micro-bench bundled plugin: resnet."""
