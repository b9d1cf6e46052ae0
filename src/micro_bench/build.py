"""Build a run's components from its config, with the one parameter check ``validate`` also uses.

:func:`bind_component` resolves a configured component, binds its parameters against the factory
signature and checks simple annotated types, without calling the factory. :func:`prepare` builds
everything (calling the factories, whose own range checks raise :class:`ComponentError`);
:func:`micro_bench.validate.validate_config` runs the same factories for every component that is
cheap to build, so a config ``validate`` accepts does not fail at ``run`` on a parameter.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from micro_bench.components import configured, offers
from micro_bench.config import Component, RunConfig
from micro_bench.contract import Split
from micro_bench.errors import ComponentError, ConfigError, MicroBenchError, ParameterError
from micro_bench.params import check_params, declared, run_facts
from micro_bench.yamlio import find_path

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pathlib import Path

    from micro_bench.host import Host
    from micro_bench.registry import Registry

__all__ = ["Prepared", "bind_component", "build_dataset", "create", "key_of", "prepare", "run_key"]


@dataclass
class Prepared:
    """The built components of one run.

    ``components`` maps each kind's config key (:func:`micro_bench.components.configured`) to the
    built object, which meets that kind's Protocol (``Kind.protocol``: ``components["trainer"]``
    a :class:`~micro_bench.components.Trainer`, ``components["loss"]`` a
    :class:`~micro_bench.components.Loss` or ``None``, ...). For convenience each is also an
    attribute (``prepared.trainer``, ``prepared.model``; ``prepared.schedule`` is
    ``components["scheduler"]``, the name of the trainer's keyword); assigning one
    (``prepared.model = trained``) sets the mapping's entry.
    """

    config: RunConfig
    split: Split
    components: dict[str, Any]
    metrics: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "components":
            raise AttributeError(name)
        found = self.__dict__.get("components") or {}
        key = _ALIASES.get(name, name)
        if key in found:
            return found[key]
        if key in configured():
            return None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        key = _ALIASES.get(name, name)
        if "components" in self.__dict__ and key in configured():
            self.components[key] = value
        else:
            object.__setattr__(self, name, value)


#: Attribute names of :class:`Prepared` that read another config key.
_ALIASES = {"schedule": "scheduler"}


_SIMPLE: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool, "str": str}


def _check_types(factory: Any, params: Mapping[str, Any], where: str) -> None:
    """Reject values whose type contradicts a simple annotation (``float``, ``int``, ``bool``, ``str``)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    for key, value in params.items():
        param = signature.parameters.get(key)
        if param is None or param.annotation is inspect.Parameter.empty:
            continue
        annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
        expected = _SIMPLE.get(annotation)
        if expected is not None and (not isinstance(value, expected) or (annotation != "bool" and isinstance(value, bool))):
            raise ConfigError(f"{where}.{key}: expected {annotation}, got {type(value).__name__} {value!r}")


def bind_component(registry: Registry, comp: Component, where: str, injected: Mapping[str, Any] | None = None,
                   *, check: bool = True, facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments the factory of ``comp`` gets (``injected``: what the runner adds),
    checked against its signature, its declared schema (``extra["params"]``, with the run's
    ``facts``: :func:`micro_bench.params.run_facts`), simple annotations and (``check``) the
    spec's ``check`` callable. Raises :class:`ConfigError` at ``where``."""
    try:
        spec = registry.spec(comp.name)
    except ComponentError as exc:
        # a namespaced name (timm:...) that its resolver refused: keep the resolver's own message
        # (e.g. the closest timm names) instead of the list of registered components
        if ":" in comp.name and comp.name.partition(":")[2] and "\n" not in str(exc):
            raise ConfigError(f"{where}: {exc}") from None
        raise ConfigError(registry.unknown_message(comp.name, where)) from None
    params = {**comp.params, **(injected or {})}
    try:
        registry.bind(comp.name, params, where=where)
    except ComponentError as exc:
        raise ConfigError(str(exc)) from None
    check_params(declared(spec), comp.params, where, facts)
    _check_types(registry.load(comp.name), comp.params, where)
    if check and spec.check is not None:
        try:
            registry.load(comp.name, "check")(**params)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return params


def create(registry: Registry, comp: Component | None, where: str, injected: Mapping[str, Any] | None = None,
           base: Path | None = None, facts: Mapping[str, Any] | None = None) -> Any:
    """Bind and build ``comp`` (``None`` stays ``None``); a factory's range check becomes a
    :class:`ConfigError` at ``where``. The parameters its spec declares as paths
    (``extra["paths"]``) are looked for in ``base`` (the benchmark file's folder) first."""
    if comp is None:
        return None
    params = bind_component(registry, comp, where, injected, facts=facts)
    for key in registry.spec(comp.name).extra.get("paths", ()):
        if base is not None and isinstance(params.get(key), str):
            params[key] = find_path(params[key], base)
    try:
        return registry.create(comp.name, **params)
    except ValueError as exc:  # ParameterError, or a factory's plain ValueError: add the location
        if isinstance(exc, MicroBenchError) and not isinstance(exc, ParameterError):
            raise
        raise ConfigError(f"{where}: {exc}") from None


def model_extra(registry: Registry, name: str, params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The run's ``seed`` for a model factory that takes one when the config does not set it,
    so initialisation never depends on the global RNG."""
    return {"seed": seed} if "seed" not in params and registry.accepts(name, "seed") else {}


def model_injected(registry: Registry, cfg: RunConfig, num_classes: int, in_chans: int) -> dict[str, Any]:
    """What the runner adds to a model's parameters: ``num_classes`` and ``in_chans`` from the
    dataset, and the run's seed (:func:`model_extra`)."""
    return {"num_classes": num_classes, "in_chans": in_chans,
            **model_extra(registry, cfg.model.name, cfg.model.params, cfg.seed)}


def _where(cfg: RunConfig, key: str) -> str:
    return cfg.origins.get(key, key)


def facts_of(cfg: RunConfig, host: Host) -> dict[str, Any]:
    """What the run's dataset and model declare about themselves (``extra["provides"]``), for
    the bounds of other components' parameters (e.g. ``lr_groups`` against the model's groups)."""
    specs = {}
    for kind in ("dataset", "model"):
        comp = getattr(cfg, kind)
        try:
            specs[kind] = host.registries[kind].spec(comp.name)
        except ComponentError:  # unknown: reported at its own key
            continue
    facts = run_facts(specs)
    for name in _named_kinds(cfg, host):  # a Param(names="metric"): the installed metrics
        facts[f"registry.{name}"] = tuple(host.registries[name].names())
    return facts


def _named_kinds(cfg: RunConfig, host: Host) -> set[str]:
    """The component kinds whose registered names a parameter of the run's components must be."""
    kinds: set[str] = set()
    for key, entry in configured().items():
        comp = cfg.components.get(key)
        if comp is None:
            continue
        try:
            spec = host.registries[entry.name].spec(comp.name)
        except ComponentError:  # unknown: reported at its own key
            continue
        kinds.update(p.names for p in declared(spec).values() if p.names and p.names in host.registries)
    return kinds


def build_dataset(cfg: RunConfig, host: Host) -> Any:
    return create(host.registries["dataset"], cfg.dataset, _where(cfg, "dataset"), base=cfg.base)


def prepare(cfg: RunConfig, host: Host, dataset: Any = None) -> Prepared:
    """Build every component of ``cfg`` (the dataset may be passed in to share it across runs):
    the dataset, then the model (with what it takes from the dataset), then every other kind with
    a config key in :data:`~micro_bench.components.KIND_TABLE` order, then the metrics."""
    regs = host.registries
    facts = facts_of(cfg, host)
    ds = dataset if dataset is not None else build_dataset(cfg, host)
    built: dict[str, Any] = {"dataset": ds, "model": create(
        regs["model"], cfg.model, _where(cfg, "model"),
        model_injected(regs["model"], cfg, len(ds.classes), len(ds.channels)), cfg.base, facts)}
    for key, entry in configured().items():
        if key not in built:
            built[key] = create(regs[entry.name], cfg.components.get(key), _where(cfg, key), base=cfg.base,
                                facts=facts)
    where = _where(cfg, "metrics")
    metrics = {m.name: create(regs["metric"], m, f"{where}[{j}]") for j, m in enumerate(cfg.metrics)}
    try:
        split = Split.of(ds, cfg.split)
    except ValueError as exc:  # e.g. a method the dataset does not implement: add the location
        if isinstance(exc, MicroBenchError) and not isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{_where(cfg, 'split')}: {exc}") from None
    return Prepared(config=cfg, split=split, components=built, metrics=metrics)


def run_key(cfg: RunConfig, fingerprint: str, distributions: Mapping[str, str] | None = None) -> str:
    """Hash of the resolved config (without the row label), dataset fingerprint, version and the
    ``{distribution: version}`` of the components' providers."""
    from micro_bench._version import __version__

    return key_of(cfg.to_dict(), fingerprint, __version__, distributions)


def key_of(run: Mapping[str, Any], fingerprint: str, version: str, distributions: Mapping[str, str] | None) -> str:
    """:func:`run_key` from recorded data (``config.json``: ``run``, fingerprint, version, ...)."""
    data = {k: v for k, v in run.items() if k != "label"}
    if isinstance(data.get("evaluate"), Mapping) and "ci" in data["evaluate"]:  # intervals: computed after
        data["evaluate"] = {k: v for k, v in data["evaluate"].items() if k != "ci"}
    blob = json.dumps({"config": data, "dataset": fingerprint, "version": version,
                       "distributions": dict(distributions or {})}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]




def takes_sampler(trainer: Any) -> bool:
    """Whether a trainer (instance, or factory class) declares ``accepts_sampler = True``."""
    return offers(trainer, "accepts_sampler")


def no_sampler(trainer: str, where: str) -> ConfigError:
    """The located error for a sampler configured with a trainer that cannot use one."""
    return ConfigError(f"{where}: trainer {trainer!r} does not draw samples with a sampler (it does not declare "
                       "accepts_sampler = True); remove the sampler")


def sampler_argument(built: Prepared) -> dict[str, Any]:
    """``{"sampler": ...}`` for ``trainer.fit`` when the run configures one; ``{}`` otherwise."""
    if built.sampler is None:
        return {}
    if not takes_sampler(built.trainer):
        raise no_sampler(built.config.trainer.name, _where(built.config, "sampler"))
    return {"sampler": built.sampler}
