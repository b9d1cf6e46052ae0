"""Strict reading of benchmark YAML: every problem is a :class:`ConfigError` naming the file and
the line or key path, never a Python exception from deep inside the parser.

Beyond ``yaml.safe_load``: the file must be UTF-8 text (a BOM is fine); a mapping may not repeat a
key (YAML 1.2 forbids it; PyYAML silently keeps the last); nesting is limited to
:data:`MAX_DEPTH` levels and alias expansion to :data:`MAX_NODES` values (no recursion error, no
"billion laughs"); keys are strings and values plain data (null, bool, int, float, str, list,
mapping), so a YAML timestamp, set or binary is reported instead of breaking the run key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from micro_bench.errors import ConfigError

__all__ = ["MAX_DEPTH", "MAX_NODES", "check_name", "check_plain", "find_path", "load_yaml_text", "read_yaml",
           "resolve_inside"]

MAX_DEPTH = 64
MAX_NODES = 200_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that rejects duplicate keys and nesting deeper than :data:`MAX_DEPTH`."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"duplicate key {key!r} (first at line {seen[key].line + 1}); each key may "
                        "appear once in a mapping", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _yaml_error(where: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    loc = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ConfigError(f"{where}: {loc}invalid YAML ({problem})")


def load_yaml_text(text: str, where: str) -> Any:
    """Parse ``text`` strictly; ``where`` (a file name, ``--set 'k=v'``) prefixes every error."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _yaml_error(where, exc) from None
    except RecursionError:  # a YAML construct deeper than the composer's own guard
        raise ConfigError(f"{where}: nested too deeply to read (limit {MAX_DEPTH} levels)") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # a tag PyYAML cannot build
        raise ConfigError(f"{where}: invalid YAML (a tagged value that cannot be read: "
                          f"{type(exc).__name__}: {str(exc)[:120]})") from None
    check_plain(data, where)
    return data


def read_yaml(path: Path) -> Any:
    """Read a benchmark file: UTF-8 text, strict YAML, plain data."""
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise ConfigError(f"benchmark file {str(path)!r} {what}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    nul = raw.find(b"\0", 0, 8192)
    if nul >= 0:
        raise ConfigError(f"{path}: a binary file, not a YAML benchmark (NUL byte at offset {nul})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8") from None
    return load_yaml_text(text, str(path))


def check_plain(data: Any, where: str) -> None:
    """Keys must be strings, values plain JSON-like data; the alias-expanded size is bounded."""
    sizes: dict[int, int] = {}

    def walk(value: Any, path: str) -> int:
        if id(value) in sizes:
            return sizes[id(value)]
        size = 1
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ConfigError(f"{where}: {path or 'top level'}: key {key!r} is a "
                                      f"{type(key).__name__}, expected a string (quote it)")
                size += walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                size += walk(item, f"{path}[{i}]")
        elif value is not None and not isinstance(value, (bool, int, float, str)):
            raise ConfigError(f"{where}: {path or 'top level'}: a YAML {type(value).__name__} is not "
                              "supported here; expected a number, string, list or mapping (quote it)")
        if size > MAX_NODES:
            raise ConfigError(f"{where}: {path or 'top level'}: expands to more than {MAX_NODES} values "
                              "(through YAML aliases); not a benchmark file")
        if isinstance(value, (dict, list)):
            sizes[id(value)] = size
        return size

    walk(data, "")


def check_name(name: Any, where: str) -> str:
    """A benchmark ``name``: one plain path component (results go to ``<out>/<name>/``)."""
    if not isinstance(name, str) or not _NAME.match(name) or name in {".", ".."}:
        raise ConfigError(f"{where}: name {name!r}: expected a plain identifier (letters, digits, "
                          "'_', '-', '.', '+'; no path separators), e.g. hpa_table4")
    return name


def resolve_inside(folder: Path, relative: str, where: str) -> Path:
    """``folder / relative``, refusing absolute paths and any that leave ``folder``."""
    if Path(relative).is_absolute() or Path(relative).drive:
        raise ConfigError(f"{where}: {relative!r} is absolute; expected a path relative to the "
                          f"benchmark file's folder {str(folder)!r}")
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ConfigError(f"{where}: {relative!r} leaves the benchmark file's folder {str(folder)!r}")
    return folder / relative


def find_path(value: str, folder: Path) -> str:
    """Where a relative path of a benchmark file is (docs/config.md, "Relative paths"): the first
    of ``folder / value`` (the benchmark file's folder) and ``$MICRO_BENCH_DATA / value`` that
    exists, else ``value`` as given (the working folder). Absolute paths and URLs are kept."""
    if "://" in value or Path(value).is_absolute():
        return value
    data = os.environ.get("MICRO_BENCH_DATA")
    found = [root / value for root in (folder, *([Path(data)] if data else [])) if (root / value).exists()]
    return str(found[0]) if found else value
