"""Declared parameter schemas: one check of every configured value before anything is built.

A component declares its parameters in ``ComponentSpec.extra["params"]``, a mapping of
parameter name to :class:`Param`; ``validate`` and ``run`` both check every configured value
against it (types, ranges, allowed values, list lengths) before any factory is called, so no
config value reaches a library unchecked. Bounds may depend on the run: ``length`` and
``at_least`` can name a fact another component of the run declares in its
``extra["provides"]`` (e.g. a model's ``{"layer_groups": 3, "min_batch": 2}``), written
``"model.layer_groups"``. A third-party component declares its schema the same way::

    ComponentSpec("my_loss", "my_pkg.loss:MyLoss", extra={"params": {
        "gamma": Param("float", ge=0), "mode": Param("str", choices=("a", "b"))}})

Only the standard library is imported here: plugin entry modules import :class:`Param`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from micro_bench.errors import ConfigError

__all__ = ["SEED_MAX", "Param", "check_params", "run_facts"]

#: The largest seed accepted anywhere: numpy's ``RandomState`` and scikit-learn's
#: ``random_state`` take ``[0, 2**32 - 1]``; torch and ``default_rng`` take more.
SEED_MAX = 2**32 - 1

_TYPES = ("int", "float", "bool", "str", "mapping", "list[int]", "list[float]", "list[str]", "any")
_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
          "mapping": "a mapping", "list[int]": "a list of integers", "list[float]": "a list of numbers",
          "list[str]": "a list of strings", "any": "a value"}


def _is(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "str":
        return isinstance(value, str)
    if kind == "mapping":
        return isinstance(value, Mapping)
    item = kind[len("list[") : -1]
    return isinstance(value, (list, tuple)) and all(_is(v, item) for v in value)


@dataclass(frozen=True)
class Param:
    """The schema of one parameter.

    Args:
        type: one of ``int``, ``float`` (finite; integers accepted), ``bool``, ``str``,
            ``mapping``, ``list[int]``, ``list[float]``, ``list[str]``, ``any``; or a tuple of them.
        ge, gt, le, lt: bounds of a number, or of each item of a list of numbers.
        choices: the allowed values of a string (or of each item of a list of strings).
        also: literal values accepted besides the type, e.g. ``("auto",)`` or ``("find",)``.
        nullable: ``null`` accepted.
        exclude: values refused inside the range (scikit-learn's ``n_jobs: 0``).
        length: a list's exact length, or a run fact (``"model.layer_groups"``).
        min_length, max_length: a list's least and greatest length; ``min_length`` may name a
            run fact (``"model.layer_groups"``: at least one item per group; 1 where the run's
            components declare none).
        at_least: a run fact raising the lower bound (``"model.min_batch"``).
        names: a component kind (``"metric"``): a string must be a name registered for it (the
            run fact ``"registry.metric"``, known to ``validate`` and ``run``; a refusal suggests
            the closest name).
        doc: one line for ``list -v`` and the docs.
    """

    type: str | tuple[str, ...]
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] = ()
    also: tuple[Any, ...] = ()
    nullable: bool = False
    exclude: tuple[Any, ...] = ()
    length: int | str | None = None
    min_length: int | str = 0
    max_length: int | None = None
    at_least: str | None = None
    names: str | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        for kind in self.types:
            if kind not in _TYPES:
                raise ValueError(f"Param: unknown type {kind!r}; expected one of {', '.join(_TYPES)}")

    @property
    def types(self) -> tuple[str, ...]:
        return (self.type,) if isinstance(self.type, str) else tuple(self.type)

    def describe(self, facts: Mapping[str, Any] | None = None) -> str:
        """What the parameter accepts, e.g. ``an integer >= 1 or null``."""
        parts = []
        for kind in self.types:
            text = _WORDS[kind]
            if kind.startswith("list["):
                length = self._length(facts)
                if length is not None:
                    text = f"a list of {length} " + text[len("a list of "):]
                elif self._min_length(facts) or self.max_length is not None:
                    count = (f"{self._min_length(facts)} to {self.max_length}" if self.max_length is not None
                             else f"at least {self._min_length(facts)}")
                    text = f"a list of {count} " + text[len("a list of "):]
            bounds = self._bounds_text(facts) if kind in ("int", "float", "list[int]", "list[float]") else ""
            allowed = (facts or {}).get(f"registry.{self.names}") if self.names else None
            if kind == "str" and allowed is not None:
                text = f"the name of an installed {self.names} ({', '.join(map(str, allowed))})"
            elif self.choices and kind in ("str", "list[str]"):
                bounds = "one of " + ", ".join(map(str, self.choices))
                text = bounds if kind == "str" else f"{text}, each {bounds}"
            elif bounds:
                text += (" " if kind in ("int", "float") else ", each ") + bounds
            parts.append(text)
        parts += [repr(v) for v in self.also]
        if self.nullable:
            parts.append("null")
        out = " or ".join(parts)
        if isinstance(self.length, str) and self._length(facts) is None:
            out += f" (one per {self.length}, where declared)"
        if isinstance(self.min_length, str) and self.min_length not in (facts or {}):
            out += f" (at least {self.min_length}, where declared)"
        if self.at_least and self.at_least not in (facts or {}):
            out += f" (at least {self.at_least}, where declared)"
        if self.exclude:
            out += ", not " + ", ".join(map(repr, self.exclude))
        return out

    def _min_length(self, facts: Mapping[str, Any] | None) -> int:
        if isinstance(self.min_length, str):
            value = (facts or {}).get(self.min_length)
            return value if isinstance(value, int) else 1
        return self.min_length

    def _length(self, facts: Mapping[str, Any] | None) -> int | None:
        if isinstance(self.length, str):
            value = (facts or {}).get(self.length)
            return value if isinstance(value, int) else None
        return self.length

    def _low(self, facts: Mapping[str, Any] | None) -> tuple[float | None, bool]:
        """The lower bound and whether it is inclusive, raised by ``at_least``."""
        low, inclusive = (self.ge, True) if self.ge is not None else (self.gt, False)
        extra = (facts or {}).get(self.at_least) if self.at_least else None
        if isinstance(extra, (int, float)) and (low is None or extra > low or (extra == low and not inclusive)):
            return extra, True
        return low, inclusive

    def _bounds_text(self, facts: Mapping[str, Any] | None) -> str:
        low, inclusive = self._low(facts)
        high, hinc = (self.le, True) if self.le is not None else (self.lt, False)
        if low is not None and high is not None:
            return f"in {'[' if inclusive else '('}{_num(low)}, {_num(high)}{']' if hinc else ')'}"
        if low is not None:
            return f"{'>=' if inclusive else '>'} {_num(low)}"
        if high is not None:
            return f"{'<=' if hinc else '<'} {_num(high)}"
        return ""

    def _number_ok(self, value: float, facts: Mapping[str, Any] | None) -> bool:
        low, inclusive = self._low(facts)
        if low is not None and (value < low or (value == low and not inclusive)):
            return False
        if self.le is not None and value > self.le:
            return False
        return not (self.lt is not None and value >= self.lt)

    def accepts(self, value: Any, facts: Mapping[str, Any] | None = None) -> bool:
        """Whether ``value`` fits this schema (with the run's ``facts``)."""
        if value is None:
            return self.nullable
        if any(value == v and type(value) is type(v) for v in self.also):
            return True
        if any(value == v and type(value) is type(v) for v in self.exclude):
            return False
        for kind in self.types:
            if not _is(value, kind):
                continue
            if kind in ("int", "float"):
                return self._number_ok(value, facts)
            if kind == "str":
                allowed = (facts or {}).get(f"registry.{self.names}") if self.names else None
                return (not self.choices or value in self.choices) and (allowed is None or value in allowed)
            if kind.startswith("list["):
                length = self._length(facts)
                if (length is not None and len(value) != length) or len(value) < self._min_length(facts):
                    return False
                if self.max_length is not None and len(value) > self.max_length:
                    return False
                if kind == "list[str]":
                    return not self.choices or all(v in self.choices for v in value)
                if kind != "list[str]" and not all(self._number_ok(v, facts) for v in value):
                    return False
            return True
        return False


def run_facts(specs: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model.layer_groups": 3, ...}`` from the ``extra["provides"]`` of a run's component
    specs (``{kind: ComponentSpec}``). The names of a registry a :class:`Param` refers to
    (``names``) are added by :func:`micro_bench.build.facts_of`."""
    facts: dict[str, Any] = {}
    for kind, spec in specs.items():
        provides = getattr(spec, "extra", {}).get("provides") or {}
        facts.update({f"{kind}.{key}": value for key, value in provides.items()})
    return facts


def check_params(schema: Mapping[str, Param], params: Mapping[str, Any], where: str,
                 facts: Mapping[str, Any] | None = None) -> None:
    """Raise :class:`ConfigError` at ``where.key`` for the first value ``schema`` refuses."""
    for key, value in params.items():
        param = schema.get(key)
        if param is None or param.accepts(value, facts):
            continue
        why = ""
        for ref in (param.length, param.min_length, param.at_least):
            if isinstance(ref, str) and ref in (facts or {}):
                why = f" ({ref} is {facts[ref]!r})"  # type: ignore[index]
        allowed = (facts or {}).get(f"registry.{param.names}") if param.names else None
        if isinstance(value, str) and allowed:
            import difflib

            close = difflib.get_close_matches(value, list(map(str, allowed)), n=1, cutoff=0.6)
            if close:
                raise ConfigError(f"{where}.{key}: unknown {param.names} {value!r}; did you mean {close[0]!r}? "
                                  f"(expected {param.describe(facts)})")
        raise ConfigError(f"{where}.{key}: expected {param.describe(facts)}, got {_shown(value)}{why}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e18 else f"{x:g}"


def _shown(value: Any) -> str:
    name = "null" if value is None else type(value).__name__
    return f"{name} {value!r}" if value is not None else "null"


def declared(spec: Any) -> Mapping[str, Param]:
    """The schema a spec declares (``extra["params"]``), ``{}`` if none."""
    schema = getattr(spec, "extra", {}).get("params") or {}
    return schema if isinstance(schema, Mapping) else {}


def seed_param(doc: str = "seed") -> Param:
    """The schema of a seed: an integer in ``[0, SEED_MAX]``."""
    return Param("int", ge=0, le=SEED_MAX, doc=doc)


__all__ += ["declared", "seed_param"]
