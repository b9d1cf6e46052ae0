"""Enable micro-bench's pytest plugin (fixtures ``mb_plugin_manager``, ``mb_registries``)."""

pytest_plugins = ["micro_bench.testing"]
