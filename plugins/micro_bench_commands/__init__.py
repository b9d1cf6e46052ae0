"""micro-bench bundled plugin: the command line's own commands (`micro-bench run`, `validate`,
`list`, `plugins`, `verify`), added through ``micro_bench_add_commands`` like any plugin's."""
