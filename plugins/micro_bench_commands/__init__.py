"""micro-bench bundled plugin: the commands that inspect an installation and a results folder
(`micro-bench list`, `micro-bench plugins`, `micro-bench verify`)."""
