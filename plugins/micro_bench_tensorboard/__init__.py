"""micro-bench bundled plugin: TensorBoard logging (``run --log tensorboard``; extra ``[tensorboard]``)."""
