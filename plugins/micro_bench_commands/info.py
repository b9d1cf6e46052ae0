"""``micro-bench list`` and ``micro-bench plugins``: what is installed and whether it works."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from typing import TYPE_CHECKING

import click

from micro_bench import pass_host

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["list_", "plugins"]


@click.command("list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False)
@click.option("-v", "--verbose", is_flag=True, help="Also show each component's factory and metadata.")
@pass_host
def list_(host: Host, kind: str | None, pattern: str | None, verbose: bool) -> None:
    """List components, optionally of one KIND (dataset, model, ..., or benchmark) matching PATTERN."""
    from micro_bench.components import KIND_TABLE

    kinds = [k.name for k in KIND_TABLE]  # the table as it is now (a kind added to it is listed)

    if kind in ("benchmark", "benchmarks"):
        from micro_bench.benchmarks import bundled_benchmarks

        for entry in bundled_benchmarks(host).values():
            if not pattern or pattern in entry.name:
                click.echo(f"  {entry.name:<22} {entry.title}  [{entry.plugin}]")
                if verbose:
                    click.echo(f"      file: {entry.path}")
        return
    regs = host.registries
    aliases = {k.plural.replace(" ", "_"): k.name for k in KIND_TABLE}  # `list losses`, `list tta_policies`
    kind = aliases.get(kind or "", kind)
    if kind == "model" and pattern and (pattern == "timm" or pattern.startswith("timm:")):
        _list_timm(pattern[len("timm:"):] if pattern.startswith("timm:") else "")
        return
    if kind is not None and kind not in kinds:
        raise click.ClickException(f"unknown kind {kind!r}; expected one of: {', '.join(kinds)}")
    for k in [kind] if kind else kinds:
        registry = regs[k]
        glob = pattern if pattern and any(ch in pattern for ch in "*?[") else f"*{pattern or ''}*"
        names = [n for n in registry.names() if fnmatch.fnmatchcase(n, glob)]  # a glob or a substring
        if not kind:
            click.echo(f"{k}:")
        for name in names:
            spec = registry.spec(name)
            default = "  (default)" if spec.default else ""  # what a run without the kind's key gets
            click.echo(f"  {name:<22} {spec.description}  [{registry.plugin_of(name)}]{default}")
            if verbose:
                factory = spec.factory if isinstance(spec.factory, str) else getattr(
                    spec.factory, "__qualname__", repr(spec.factory))
                click.echo(f"      factory: {factory}")
                for key, value in spec.extra.items():
                    if key == "params" and isinstance(value, dict):  # declared schemas, one line each
                        click.echo("      params:")
                        for param, schema in value.items():
                            doc = f"  ({schema.doc})" if getattr(schema, "doc", "") else ""
                            shown = schema.describe() if hasattr(schema, "describe") else schema
                            click.echo(f"        {param}: {shown}{doc}")
                        continue
                    click.echo(f"      {key}: {value}")


def _list_timm(pattern: str) -> None:
    """``list model timm[:PATTERN]``: every timm model (the resnet plugin's ``timm:`` resolver)."""
    try:
        from micro_bench_resnet.listing import timm_lines
    except ImportError as exc:
        raise click.ClickException(f"timm models are resolved by the resnet plugin, which cannot be imported: {exc}") from None
    lines = timm_lines(pattern)
    if not lines:
        raise click.ClickException(f"no timm model matches {pattern!r}; try micro-bench list model 'timm:*{pattern[:4]}*'")
    click.echo("\n".join(lines))
    click.echo(f"{len(lines)} timm model(s); use one as model: {{name: \"timm:NAME\"}} or timm:NAME.TAG for those weights "
               "(docs/models.md)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_host
def plugins(host: Host, as_json: bool) -> None:
    """List loaded plugins, their distribution and version, and any that are broken."""
    # host.problems holds the add_commands failures: the CLI collected every plugin's commands
    # (this one's too) before running this command.
    infos = [dataclasses.asdict(info) for info in host.plugin_infos()]
    problems = [p for reg in host.registries.values() for p in reg.problems] + host.problems
    for plugin, message in problems:
        for info in infos:
            if info["name"] == plugin and info["status"] == "ok":
                info["status"] = "disabled" if "is disabled" in message else "broken"
                info["error"] = message
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        dist = f"{info['distribution']} {info['version'] or ''}".strip() if info["distribution"] else info["source"]
        line = f"{info['name']:<26} {info['status']:<8} {dist}"
        click.echo(line + (f"\n    error: {info['error']}" if info["error"] else ""))
