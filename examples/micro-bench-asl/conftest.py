"""Enable micro-bench's pytest plugin (fixtures ``mb_host``, ``mb_registries``)."""

pytest_plugins = ["micro_bench_conformance.testing"]
