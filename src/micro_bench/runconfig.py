"""The resolved configuration records: a component, one run (a table row), a benchmark.

Plain frozen dataclasses without behaviour beyond serialisation; :mod:`micro_bench.config`
builds them from YAML, the runner and the hooks read them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from micro_bench import components as _components

__all__ = ["BenchmarkConfig", "Component", "RunConfig", "component_keys"]


def component_keys() -> dict[str, str]:
    """``{config key: registry kind}`` of the kinds a run configures by key, in
    :data:`~micro_bench.components.KIND_TABLE` order (read at call time)."""
    return {key: entry.name for key, entry in _components.configured().items()}


@dataclass(frozen=True)
class Component:
    """A configured component: registry ``name`` plus factory ``params``."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **copy.deepcopy(dict(self.params))}


@dataclass(frozen=True)
class RunConfig:
    """One fully resolved run: one row of the benchmark's table.

    Its components are one mapping, ``components``, keyed by the kinds' config keys
    (:func:`micro_bench.components.configured`: ``dataset``, ``model``, ``trainer``, ``loss``,
    ``scheduler``, ``transform``, ``tta``, ``sampler``); ``None`` for an optional kind the run
    does not use. For convenience each is also an attribute: ``config.model`` is
    ``config.components["model"]`` (``None`` for a kind the mapping lacks). Change them with
    :meth:`with_components`, not ``dataclasses.replace``.
    """

    benchmark: str
    index: int
    label: str
    seed: int
    components: Mapping[str, Component | None]
    split: Mapping[str, Any]
    evaluate: Mapping[str, Any]
    metrics: tuple[Component, ...]
    #: Where each key came from, e.g. ``{"model": "bench.yaml: runs[2].model"}``, for errors.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: The benchmark file's folder, where relative path parameters are looked for first
    #: (:func:`micro_bench.yamlio.find_path`); not part of the run key.
    base: Path | None = field(default=None, compare=False)
    #: Which of the row's ``repeats`` this run is (0-based; its seed is the row's seed + ``repeat``)
    #: and how many the row has. Not part of the run key: the seed tells repeats apart, so a
    #: repeat is the same cached run as a row with that seed, and adding repeats reuses the done.
    repeat: int = 0
    repeats: int = 1

    def __getattr__(self, name: str) -> Any:
        """``config.<key>``: the component under a kind's config key (``None`` if unset)."""
        if name.startswith("_") or name == "components":  # unpickling, copying: not a component
            raise AttributeError(name)
        found = self.__dict__.get("components") or {}
        if name in found:
            return found[name]
        if name in _components.configured():
            return None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def with_components(self, **changes: Component | None) -> RunConfig:
        """A copy with the components under the given config keys replaced."""
        return replace(self, components={**self.components, **changes})

    @property
    def display(self) -> str:
        """The row label, with ``(repeat 2/3, seed 1)`` for a row with several repeats."""
        return self.label if self.repeats == 1 else f"{self.label} (repeat {self.repeat + 1}/{self.repeats}, seed {self.seed})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the basis of the run key (``label`` and ``index`` excluded from the hash):
        every configured kind's component (``null`` when unset) in table order."""
        out: dict[str, Any] = {"benchmark": self.benchmark, "label": self.label, "seed": self.seed}
        for key in _components.configured():
            comp = self.components.get(key)
            out[key] = comp.to_dict() if comp is not None else None
        out["split"] = dict(self.split)
        out["evaluate"] = dict(self.evaluate)
        out["metrics"] = [m.to_dict() for m in self.metrics]
        return json.loads(json.dumps(out))


@dataclass(frozen=True)
class BenchmarkConfig:
    """A loaded benchmark file."""

    path: Path
    name: str
    title: str
    profile: str | None
    runs: tuple[RunConfig, ...]
    table: Mapping[str, Any]
    reference: Path | None
    profiles: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    #: The split the reference's numbers are for (``reference_split``); a table evaluated on
    #: another split shows no reference column.
    reference_split: str | None = None

    @property
    def metrics(self) -> tuple[Component, ...]:
        return self.runs[0].metrics if self.runs else ()
