"""micro-bench bundled plugin: results as a tidy table (`micro-bench results`) and a static HTML
report (`micro-bench report`)."""
