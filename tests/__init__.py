"""micro-bench's tests, grouped by what they test: ``core/`` (src/micro_bench), ``plugins/NAME/``
(the bundled plugin ``micro_bench_NAME``), ``stories/`` (end-to-end user stories), ``faults/`` (bad
input, kills, fuzzing). Every folder is a package, so two folders may hold test files of the same
name; a test module imports a neighbour relatively (``from .test_x import helper``). Shared fixtures
are in ``conftest.py`` here; ``toy_plugin`` and ``owndata`` are helper modules importable by name."""
