"""The pytest helpers for plugin authors, kept at this name for third-party test suites
(``pytest -p micro_bench.testing``): they live in the bundled conformance plugin,
:mod:`micro_bench_conformance.testing`."""

from micro_bench_conformance.testing import assert_conforms, mb_host, mb_registries, registered

__all__ = ["assert_conforms", "mb_host", "mb_registries", "registered"]
