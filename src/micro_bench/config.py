"""Benchmark files: YAML -> frozen dataclasses, with profiles, ``--set`` overrides and errors that
name the file, the key path and what was expected.

Merging rule (runs over the base, a profile over the file, ``--set`` over everything): mappings
merge key by key; a component mapping whose ``name`` differs from the one it overrides replaces
it (its parameters would not fit the other factory); lists and scalars replace.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from micro_bench.components import configured
from micro_bench.contract import SPLIT_DEFAULTS
from micro_bench.errors import ConfigError
from micro_bench.merge import apply_set, deep_merge, parse_set
from micro_bench.merge import type_name as _type_name
from micro_bench.params import SEED_MAX
from micro_bench.runconfig import BenchmarkConfig, Component, RunConfig, component_keys
from micro_bench.yamlio import check_name, resolve_inside

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = [
    "SCHEMA_VERSION",
    "CI_DEFAULTS",
    "BenchmarkConfig",
    "Component",
    "RunConfig",
    "check_ci",
    "component_keys",
    "load_config",
    "parse_set",
]

SCHEMA_VERSION = 1
#: A run's keys besides its components' (:func:`component_keys`).
OTHER_RUN_KEYS = frozenset({"label", "seed", "repeats", "split", "evaluate", "metrics"})
#: A benchmark file's top-level keys besides a run's.
FILE_KEYS = frozenset({"version", "name", "title", "description", "table", "runs", "reference", "reference_split",
                       "profiles"})
EVALUATE_DEFAULTS = {"split": "val", "threshold": 0.5}
#: ``evaluate.ci``: bootstrap intervals over the evaluated samples (computed from the saved
#: predictions when tables are made; not part of the run key). ``ci: false`` turns them off.
CI_DEFAULTS: dict[str, Any] = {"method": "bootstrap", "n": 1000, "level": 0.95, "seed": 0}
#: The most repeats a row may ask for (each is a whole training run).
MAX_REPEATS = 100
TABLE_DEFAULTS: dict[str, Any] = {"kind": "metrics"}
#: How a title's ``{split}`` reads for each evaluated split.
SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}


def run_keys() -> set[str]:
    """The keys a run (and the file's top level, for every run) may set."""
    return set(component_keys()) | OTHER_RUN_KEYS


def top_keys() -> set[str]:
    return run_keys() - {"label"} | FILE_KEYS


class _Ctx:
    def __init__(self, path: Path, host: Host | None) -> None:
        self.path = path
        #: top-level key -> the last ``--set`` expression that changed it (errors name it)
        self.sets: dict[str, str] = {}
        self._host = host
        self._defaults: dict[str, str | None] = {}

    def default(self, key: str) -> str | None:
        """The component a run gets for config key ``key`` when it does not set it: the one a
        plugin of the host declares ``default=True`` for (``None``: none)."""
        if key not in self._defaults:
            if self._host is None:
                from micro_bench.host import Host

                self._host = Host.load()
            self._defaults[key] = self._host.registries[component_keys()[key]].default()
        return self._defaults[key]

    def locate(self, where: str) -> str:
        """``FILE: where``, or ``--set 'EXPR' (on FILE): where`` for a key a ``--set`` changed."""
        top = re.sub(r"^runs\[\d+\]\.", "", where).split(".")[0].split("[")[0]
        source = f"--set {self.sets[top]!r} (on {self.path})" if top in self.sets else str(self.path)
        return f"{source}: {where}" if where else source

    def error(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.locate(where)}: {message}")


def _component(raw: Any, where: str, ctx: _Ctx, optional: bool) -> Component | None:
    if raw is None:
        if optional:
            return None
        raise ctx.error(where, "missing; expected a component name or a mapping with 'name'")
    if isinstance(raw, str) and raw:
        return Component(raw, {})
    if isinstance(raw, Mapping):
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ctx.error(where, f"expected a mapping with a 'name' string, got keys {sorted(raw)} "
                                   "(is the base component missing?)")
        return Component(name, {k: v for k, v in raw.items() if k != "name"})
    raise ctx.error(where, f"expected a component name or a mapping with 'name', got {_type_name(raw)} {raw!r}")


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str, ctx: _Ctx) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ctx.error(f"{where}{key}", f"unknown key{hint} Allowed: {', '.join(sorted(allowed))}")


def _read_yaml(path: Path) -> Any:
    from micro_bench.yamlio import read_yaml

    return read_yaml(path)


def load_config(
    path: str | Path, *, profile: str | None = None, overrides: Sequence[str] = (), host: Host | None = None,
) -> BenchmarkConfig:
    """Read and validate a benchmark file (structure only; see :func:`micro_bench.validate`).

    A component key a run does not set gets the component a plugin of ``host`` declares the
    default of its kind (``ComponentSpec(default=True)``: the bundled ``fastai`` transform); without
    ``host``, the default host's plugins (:meth:`micro_bench.host.Host.load`) are asked."""
    path = Path(path)
    ctx = _Ctx(path, host)
    raw = _read_yaml(path)
    if not isinstance(raw, Mapping):
        raise ctx.error("", f"expected a mapping at the top level, got {_type_name(raw)}")
    if "version" not in raw:
        raise ctx.error("version", f"missing; add 'version: {SCHEMA_VERSION}'")
    if raw["version"] != SCHEMA_VERSION:
        raise ctx.error("version", f"unsupported version {raw['version']!r}; this micro-bench reads version {SCHEMA_VERSION}")
    _check_keys(raw, top_keys(), "", ctx)
    profiles = raw.get("profiles") or {}
    if not isinstance(profiles, Mapping):
        raise ctx.error("profiles", f"expected a mapping of profile name -> overrides, got {_type_name(profiles)}")
    base = {k: v for k, v in raw.items() if k not in {"runs", "profiles"}}
    runs_raw = raw.get("runs", [{}])
    run_patches: Mapping[str, Any] = {}
    if profile is not None:
        if profile not in profiles:
            raise ctx.error("profiles", f"unknown profile {profile!r}; available: {', '.join(profiles) or '(none)'}")
        patch = profiles[profile]
        if not isinstance(patch, Mapping):
            raise ctx.error(f"profiles.{profile}", f"expected a mapping, got {_type_name(patch)}")
        _check_keys(patch, top_keys() - {"profiles", "version"}, f"profiles.{profile}.", ctx)
        patch = dict(patch)
        prof_runs = patch.pop("runs", None)
        if isinstance(prof_runs, list):
            runs_raw = prof_runs
        elif isinstance(prof_runs, Mapping):
            run_patches = prof_runs
        elif prof_runs is not None:
            raise ctx.error(f"profiles.{profile}.runs", "expected a list of runs or a mapping label -> overrides")
        base = deep_merge(base, patch)
    if not isinstance(runs_raw, list) or not runs_raw:
        raise ctx.error("runs", f"expected a non-empty list of runs, got {_type_name(runs_raw)}")
    parsed_sets = [(parse_set(expr), expr) for expr in overrides]
    ctx.sets = {keys[0]: expr for (keys, _), expr in parsed_sets}
    name = check_name(base.get("name") or path.stem, f"{path}: name" if "name" in base else str(path))
    runs = []
    labels: set[str] = set()
    for i, run_raw in enumerate(runs_raw):
        where = f"runs[{i}]"
        if not isinstance(run_raw, Mapping):
            raise ctx.error(where, f"expected a mapping, got {_type_name(run_raw)}")
        _check_keys(run_raw, run_keys(), f"{where}.", ctx)
        label = str(run_raw.get("label", f"run{i}"))
        if label in labels:
            raise ctx.error(f"{where}.label", f"duplicate label {label!r}; each run is one table row")
        labels.add(label)
        merged = deep_merge(deep_merge(base, run_raw), run_patches.get(label, {}))
        for (keys, value), expr in parsed_sets:
            apply_set(merged, keys, value, expr, settable=run_keys() - {"label"}, components=component_keys())
        runs.extend(_repeats(_run(name, i, label, merged, run_raw, ctx), merged, run_raw, ctx))
    unknown_patches = set(run_patches) - labels
    if unknown_patches:
        raise ctx.error(f"profiles.{profile}.runs", f"no run labelled {sorted(unknown_patches)[0]!r}; labels: {', '.join(sorted(labels))}")
    if not isinstance(base.get("table") or {}, Mapping):
        raise ctx.error("table", f"expected a mapping, got {_type_name(base.get('table'))}")
    table = deep_merge(TABLE_DEFAULTS, base.get("table") or {})
    reference = base.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise ctx.error("reference", f"expected a path string, got {_type_name(reference)}")
    ref_path = resolve_inside(path.parent, reference, f"{path}: reference") if reference else None
    if ref_path is not None and not ref_path.is_file():
        raise ctx.error("reference", f"file {str(ref_path)!r} not found: copy the reference CSV beside the "
                                     "benchmark file, or remove the `reference:` key (no paper columns then)")
    ref_split = base.get("reference_split")
    if ref_split is not None and ref_split not in SPLIT_WORDS:
        raise ctx.error("reference_split", f"expected the split the reference's numbers are for (train, val or "
                                           f"test), got {ref_split!r}")
    return BenchmarkConfig(
        path=path, name=name, title=title_for(str(base.get("title") or name), runs), profile=profile,
        runs=tuple(runs), table=table, reference=ref_path, profiles=tuple(profiles), overrides=tuple(overrides),
        reference_split=ref_split,
    )


def title_for(title: str, runs: Sequence[RunConfig]) -> str:
    """``title`` with ``{split}`` replaced by the evaluated split's name (``validation``, ``test``,
    ``training``; several joined with ``/``), so ``--set evaluate.split=test`` retitles a table."""
    if "{split}" not in title:
        return title
    parts = dict.fromkeys(SPLIT_WORDS[run.evaluate["split"]] for run in runs)
    return title.replace("{split}", "/".join(parts) or SPLIT_WORDS["val"])


def _where(key: str, run_raw: Mapping[str, Any], index: int) -> str:
    return f"runs[{index}].{key}" if key in run_raw else key


def _run(bench: str, i: int, label: str, merged: Mapping[str, Any], run_raw: Mapping[str, Any], ctx: _Ctx) -> RunConfig:
    comps = {
        key: _component(merged[key] if key in merged else None if entry.required else ctx.default(key),
                        _where(key, run_raw, i), ctx, optional=not entry.required)
        for key, entry in configured().items()
    }
    seed = merged.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= SEED_MAX:
        raise ctx.error(_where("seed", run_raw, i), f"expected an integer in [0, {SEED_MAX}], got {_type_name(seed)} {seed!r}")
    split = _section(merged, "split", SPLIT_DEFAULTS, run_raw, i, ctx)
    split_seed = split.get("seed", 0)
    if not isinstance(split_seed, int) or isinstance(split_seed, bool) or not 0 <= split_seed <= SEED_MAX:
        raise ctx.error(_where("split", run_raw, i) + ".seed",
                        f"expected an integer in [0, {SEED_MAX}], got {_type_name(split_seed)} {split_seed!r}")
    fractions = split["fractions"]
    if (not isinstance(fractions, list) or len(fractions) != 3
            or not all(isinstance(f, (int, float)) and not isinstance(f, bool) and f >= 0 for f in fractions)
            or abs(sum(fractions) - 1.0) > 1e-6):
        raise ctx.error(_where("split", run_raw, i) + ".fractions", f"expected three non-negative numbers summing to 1, got {fractions!r}")
    if not isinstance(split["method"], str) or not split["method"]:
        raise ctx.error(_where("split", run_raw, i) + ".method",
                        f"expected the name of a split method the dataset implements (e.g. multilabel_stratified), "
                        f"got {_type_name(split['method'])} {split['method']!r}")
    evaluate = _section(merged, "evaluate", EVALUATE_DEFAULTS, run_raw, i, ctx)
    if evaluate["split"] not in ("train", "val", "test"):
        raise ctx.error(_where("evaluate", run_raw, i) + ".split", f"expected train, val or test, got {evaluate['split']!r}")
    if "ci" in evaluate:
        check_ci(evaluate["ci"], ctx.locate(_where("evaluate", run_raw, i) + ".ci"))
    thr = evaluate["threshold"]
    needed = {"train": "training", evaluate["split"]: f"evaluate.split {evaluate['split']}"}
    if isinstance(thr, str):
        needed.setdefault("val", f"evaluate.threshold {thr}")
    for part, why in needed.items():
        if fractions[("train", "val", "test").index(part)] == 0:
            raise ctx.error(_where("split", run_raw, i) + ".fractions",
                            f"the {part} part is empty ({fractions!r}) but {why} needs it; give it a fraction > 0")
    if not ((isinstance(thr, str) and thr) or (isinstance(thr, (int, float)) and not isinstance(thr, bool) and 0 <= thr <= 1)):
        raise ctx.error(_where("evaluate", run_raw, i) + ".threshold",
                        f"expected a number in [0, 1] or a threshold rule's name (tuned, prevalence, ...), got {thr!r}")
    metrics_raw = merged.get("metrics")
    if not isinstance(metrics_raw, list) or not metrics_raw:
        raise ctx.error(_where("metrics", run_raw, i), f"expected a non-empty list of metric names, got {_type_name(metrics_raw)}")
    metrics = tuple(
        cast(Component, _component(m, f"{_where('metrics', run_raw, i)}[{j}]", ctx, optional=False))  # never None
        for j, m in enumerate(metrics_raw)
    )
    origins = {key: ctx.locate(_where(key, run_raw, i)) for key in (*comps, "metrics", "evaluate", "split")}
    return RunConfig(benchmark=bench, index=i, label=label, seed=seed, components=comps, split=split,
                     evaluate=evaluate, metrics=metrics, origins=origins, base=ctx.path.parent)


def _repeats(run: RunConfig, merged: Mapping[str, Any], run_raw: Mapping[str, Any], ctx: _Ctx) -> list[RunConfig]:
    """The row ``run`` as its ``repeats`` runs, seeds ``seed, seed + 1, ...``."""
    import dataclasses

    n = merged.get("repeats", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_REPEATS:
        raise ctx.error(_where("repeats", run_raw, run.index),
                        f"expected an integer from 1 to {MAX_REPEATS}, got {_type_name(n)} {n!r}")
    if run.seed + n - 1 > SEED_MAX:
        raise ctx.error(_where("repeats", run_raw, run.index),
                        f"{n} repeats from seed {run.seed} reach seed {run.seed + n - 1}, above {SEED_MAX}; "
                        "lower the seed")
    return [dataclasses.replace(run, seed=run.seed + r, repeat=r, repeats=n) for r in range(n)]


def check_ci(value: Any, where: str) -> dict[str, Any] | None:
    """``evaluate.ci`` resolved over :data:`CI_DEFAULTS` (None for ``ci: false``); a
    :class:`ConfigError` at ``where`` for a bad value."""
    if value is False:
        return None
    if value is True or value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping like {{method: bootstrap, n: 1000, level: 0.95, seed: 0}} "
                          f"or false, got {_type_name(value)} {value!r}")
    unknown = sorted(set(value) - set(CI_DEFAULTS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(CI_DEFAULTS)}")
    ci = {**CI_DEFAULTS, **value}
    checks = {
        "method": (ci["method"] == "bootstrap", "'bootstrap' (percentile intervals)"),
        "n": (isinstance(ci["n"], int) and not isinstance(ci["n"], bool) and 100 <= ci["n"] <= 100_000,
              "an integer from 100 to 100000"),
        "level": (isinstance(ci["level"], float) and 0.5 <= ci["level"] < 1, "a number in [0.5, 1), e.g. 0.95"),
        "seed": (isinstance(ci["seed"], int) and not isinstance(ci["seed"], bool) and ci["seed"] >= 0,
                 "an integer >= 0"),
    }
    for key, (ok, expected) in checks.items():
        if not ok:
            raise ConfigError(f"{where}.{key}: expected {expected}, got {_type_name(ci[key])} {ci[key]!r}")
    return ci


def _section(merged: Mapping[str, Any], key: str, defaults: Mapping[str, Any], run_raw: Mapping[str, Any], i: int, ctx: _Ctx) -> dict[str, Any]:
    value = merged.get(key) or {}
    if not isinstance(value, Mapping):
        raise ctx.error(_where(key, run_raw, i), f"expected a mapping, got {_type_name(value)}")
    _check_keys(value, set(defaults) | ({"ci"} if key == "evaluate" else set()), f"{_where(key, run_raw, i)}.", ctx)
    return {**defaults, **value}
