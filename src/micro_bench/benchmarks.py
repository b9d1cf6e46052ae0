"""Benchmarks by name: the YAML files plugins ship (hook ``micro_bench_benchmarks``).

``micro-bench run hpa_table4`` finds ``hpa_table4`` among the files every plugin provides; an
existing file path is used as it is. A benchmark's name is its file's ``name`` key (default: the
file stem), its title the ``title`` key. Only YAML is read here: nothing heavy is imported.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

from micro_bench.config import SPLIT_WORDS
from micro_bench.errors import ConfigError
from micro_bench.hookcall import call_hook, first_registered

__all__ = ["BenchmarkEntry", "bundled_benchmarks", "resolve_benchmark"]


@dataclass(frozen=True)
class BenchmarkEntry:
    """One benchmark file a plugin provides."""

    name: str
    title: str
    path: Path
    plugin: str


def _header(path: Path) -> tuple[str, str]:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raw = None
    raw = raw if isinstance(raw, dict) else {}
    name = raw.get("name")
    name = name if isinstance(name, str) else path.stem
    title = str(raw.get("title") or name)
    evaluate = raw.get("evaluate")
    evaluate = evaluate if isinstance(evaluate, dict) else {}
    return name, title.replace("{split}", SPLIT_WORDS.get(str(evaluate.get("split", "val")), "validation"))


def bundled_benchmarks(host: Host) -> dict[str, BenchmarkEntry]:
    """Every benchmark file the plugins of ``host`` provide, by name (a name provided twice is an error)."""
    found: dict[str, BenchmarkEntry] = {}
    report = None if host.strict else (lambda line: host.problems.append((getattr(line, "plugin", "?"), str(line))))
    provided = call_hook(host.pm, "micro_bench_benchmarks", report)
    for plugin, items in first_registered(host.pm, provided):
        for item in items or ():
            path = Path(str(item))
            name, title = _header(path)
            if name in found and found[name].path != path:  # the first registered plugin keeps it
                host.report_duplicate("benchmark", name, found[name].plugin, plugin)
                continue
            found[name] = BenchmarkEntry(name, title, path, plugin)
    return dict(sorted(found.items()))


def resolve_benchmark(name_or_path: str | Path, host: Host) -> Path:
    """The benchmark file for an existing path, else for a bundled benchmark's name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    entries = bundled_benchmarks(host)
    if text in entries:
        return entries[text].path
    if path.parent == Path(".") and path.suffix in (".yaml", ".yml") and path.stem in entries:
        return entries[path.stem].path
    if path.parent != Path(".") or path.suffix:
        return path  # a path that does not exist: load_config says so
    close = difflib.get_close_matches(text, list(entries), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"benchmark {text!r}: no such file and no bundled benchmark of that name.{hint} "
        f"Bundled: {', '.join(entries) or '(none)'} (micro-bench list benchmark)"
    )
