"""The ``micro-bench data`` command group: convert, split, stats (and synth, from ``synth.cli``).

Only stdlib, click and micro_bench are imported at module level; each command imports its
machinery when it runs, so ``micro-bench --help`` stays fast.
"""

from __future__ import annotations

import importlib

import click

from micro_bench_hpa.methods import SPLIT_METHODS

__all__ = ["data", "init"]


def _ints(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise click.BadParameter(f"{text!r}: expected comma-separated positive integers, e.g. 512,256,64",
                                 param_hint="--resolutions")
    return values


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected comma-separated numbers, e.g. 0.8,0.1,0.1") from None


class _DataGroup(click.Group):
    """Adds ``synth`` from ``micro_bench_hpa.synth.cli`` lazily (only when asked for), if present."""

    _lazy = {"synth": "micro_bench_hpa.synth.cli:synth"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands or name not in self._lazy:
            return super().get_command(ctx, name)
        module, _, attr = self._lazy[name].partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            return click.Command(name, help=f"(unavailable: {exc})", callback=lambda err=exc: _unavailable(name, err))


def _unavailable(name: str, exc: Exception) -> None:
    raise click.ClickException(f"`data {name}` is unavailable: {exc}")


@click.group("data", cls=_DataGroup)
def data() -> None:
    """Make and inspect zarr stores (convert, info, synth, split, stats, verify)."""


@data.command("convert")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("dest", type=click.Path())
@click.option("--resolutions", default="512,256,64", show_default=True, help="Output sides, comma-separated.")
@click.option("--scheduler", default=None, metavar="ADDR", help="dask.distributed scheduler address (default: local processes).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Local worker processes (default: all cores).")
@click.option("--block-size", type=click.IntRange(min=1), default=32, show_default=True, help="Samples per shard and per task.")
@click.option("--storage-option", "storage_options", multiple=True, metavar="KEY=VALUE",
              help="fsspec option for a URL DEST (s3://, gs://, ...), e.g. endpoint_url=...; repeatable.")
@click.option("--layout", "preset", default=None, metavar="NAME",
              help="A preset of the options below: hpa2021 (HPA Single-Cell Classification 2021: train.csv "
                   "ID,Label, labels 8|5|0, 19 classes, RGBY 16-bit PNGs).")
@click.option("--labels", "labels", default=None, metavar="FILE",
              help="Label table (CSV, or TSV for .tsv): any layout; without it SRC is the Kaggle HPA 2018 layout.")
@click.option("--id-column", default=None, metavar="NAME|INDEX", help="Id column [default: Id].")
@click.option("--label-column", default=None, metavar="NAME|INDEX",
              help="Column of class names or integer indices [default: Target].")
@click.option("--separator", default=None, metavar="SEP", help="Between labels in one cell, e.g. '|' or ';' [default: space].")
@click.option("--label-columns", default=None, metavar="A,B,C", help="One-hot (0/1) label columns, in class order.")
@click.option("--one-hot", is_flag=True, help="Every column but the id is a one-hot class column.")
@click.option("--classes", default=None, metavar="FILE|A,B,C",
              help="Class list in label order [default: the sorted distinct names, or 0..max for indices].")
@click.option("--channels", default=None, metavar="A,B,C",
              help="Channel names in stored order (a multi-channel file: which of its named channels to keep).")
@click.option("--pattern", default=None, metavar="PATTERN",
              help="Files of a sample, relative to SRC: {id}_{channel}.png (one file a channel) or {id}.ome.tif, "
                   "{id}.tif, {id}.ome.zarr (one multi-channel file); without extension any of .png .tif .tiff "
                   ".ome.tif .ome.zarr.")
@click.option("--fit", type=click.Choice(["pad", "crop", "resize"]), default=None,
              help="Make non-square images square: zero-pad, centre-crop, or resize (stretch). Without it they are refused.")
@click.option("--to-uint8", "to_uint8", type=click.Choice(["257", "percentile"]), default=None,
              help="Store 16-bit sources as uint8: round(x/257), or per-channel p0.1-p99.9 of training images "
                   "onto 0-255. Without it 16-bit is stored as uint16.")
def convert_cmd(src: str, dest: str, resolutions: str, scheduler: str | None, workers: int | None, block_size: int,
                storage_options: tuple[str, ...], preset: str | None, labels: str | None, id_column: str | None,
                label_column: str | None, separator: str | None, label_columns: str | None, one_hot: bool,
                classes: str | None, channels: str | None, pattern: str | None, fit: str | None,
                to_uint8: str | None) -> None:
    """Convert SRC into the zarr store DEST (resumable): the Kaggle HPA 2018 layout by default, or
    any layout with --labels/--pattern/--channels (or --layout hpa2021). DEST may be a folder or an
    fsspec URL (converted in a local staging folder, then uploaded)."""
    from micro_bench_hpa.convert import convert
    from micro_bench_hpa.location import check_url, is_remote

    options = {}
    for item in storage_options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--storage-option")
        options[key] = value
    if dest.startswith("memory://"):
        raise click.ClickException(f"{dest}: a memory:// store exists only inside one Python process and is gone when "
                                   "this command exits; convert into a folder, or call micro_bench_hpa.convert.convert "
                                   "from Python")
    if is_remote(dest):
        check_url(dest)  # before any work: unknown protocol, missing package
    if scheduler:
        from micro_bench_dask.connect import check_scheduler

        scheduler = check_scheduler(scheduler)  # before any work: form, connect timeout, a dask scheduler
    asked = {"--labels": labels, "--id-column": id_column, "--label-column": label_column, "--separator": separator,
             "--label-columns": label_columns, "--one-hot": one_hot or None, "--classes": classes,
             "--channels": channels, "--pattern": pattern, "--fit": fit, "--to-uint8": to_uint8}
    generic = None
    if preset or labels or pattern:
        from micro_bench_hpa.options import generic_options

        generic = generic_options(src, preset=preset, labels=labels, id_column=id_column, label_column=label_column,
                                  separator=separator, label_columns=label_columns, one_hot=one_hot, classes=classes,
                                  channels=channels, pattern=pattern, fit=fit, to_uint8=to_uint8)
    elif any(v is not None for v in asked.values()):
        given = ", ".join(k for k, v in asked.items() if v is not None)
        raise click.UsageError(f"{given} describe a generic layout: give --labels FILE and --pattern PATTERN "
                               "(or --layout hpa2021); without them SRC is read as the Kaggle HPA 2018 layout")
    report = convert(src, dest, resolutions=_ints(resolutions), scheduler=scheduler, workers=workers,
                     block_size=block_size, storage_options=options, generic=generic)
    click.echo(f"{report['written']} samples written to {dest}; report: {dest}/convert_report.json")
    for kind, count in sorted(report["problems"].items()):
        click.echo(f"  skipped {count:6d}  {kind}")


@data.command("verify")
@click.argument("store")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Threads (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--storage-option", "storage_options", multiple=True, metavar="KEY=VALUE",
              help="fsspec option for a remote STORE (credentials, endpoint_url, ...); repeatable.")
def verify_cmd(store: str, workers: int | None, as_json: bool, storage_options: tuple[str, ...]) -> None:
    """Check every array of STORE (a folder, file:// or fsspec URL): ids, labels, status, splits,
    statistics and attributes decoded and checked against each other, every written sample
    against its digest; name what is damaged."""
    import json

    from tqdm.auto import tqdm

    from micro_bench_hpa.integrity import verify
    from micro_bench_hpa.location import cli_store
    from micro_bench_hpa.store import array_at, open_store

    store, options = cli_store(store, storage_options)
    try:
        total = int(array_at(open_store(store, storage_options=options), "status").shape[0])
    except (KeyError, TypeError, ValueError):
        total = 0  # named by verify's structural check
    with tqdm(total=total, unit="sample", desc="verify", disable=None) as bar:
        report = verify(store, workers=workers, progress=bar.update, storage_options=options)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    for problem in report["problems"]:
        click.echo(f"problem: {problem}")
    for shard in report["missing_shards"]:
        click.echo(f"missing shard: {store}/{shard}")
    for shard in report["changed_shards"]:
        click.echo(f"changed shard: {store}/{shard}")
    for item in report["damaged"]:
        click.echo(f"damaged sample: row {item['row']} id {item['id']}")
    bad = len(report["damaged"]) + len(report["missing_shards"]) + len(report["changed_shards"]) + len(report["problems"])
    if bad:
        raise click.ClickException(
            f"{store}: {len(report['problems'])} structural problem(s), {len(report['damaged'])} damaged sample(s), "
            f"{len(report['missing_shards'])} missing and {len(report['changed_shards'])} changed shard(s) (listed "
            "above); convert again into a new store")
    click.echo(f"{store}: OK ({report['checked']} written samples match their digests)")


@data.command("info")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys n, channels, classes, dtype, "
              "resolutions, label_counts, ...).")
def info_cmd(store: str, as_json: bool) -> None:
    """Samples, channels, classes, pixel type, resolutions and label counts of STORE."""
    import json

    from micro_bench_hpa.info import describe_store, info_lines

    info = describe_store(store)
    click.echo(json.dumps(info, indent=1) if as_json else "\n".join(info_lines(info)))


@data.command("split")
@click.argument("source", metavar="STORE_OR_CSV", type=click.Path(exists=True))
@click.option("--out", type=click.Path(), default=None, help="Manifest CSV (Id,split); default beside the input.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fractions", default="0.8,0.1,0.1", show_default=True, help="train,val,test")
@click.option("--method", type=click.Choice(SPLIT_METHODS), default="multilabel_stratified", show_default=True,
              help="Iterative stratification, or one seeded permutation (the paper's; the paper benchmarks').")
def split_cmd(source: str, out: str | None, seed: int, fractions: str, method: str) -> None:
    """Train/val/test split of a store or a label CSV (the config's split.method)."""
    from micro_bench_hpa.split_cmd import run_split

    for line in run_split(source, out=out, seed=seed, fractions=_floats(fractions), method=method):
        click.echo(line)


@data.command("stats")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fractions", default="0.8,0.1,0.1", show_default=True)
@click.option("--method", type=click.Choice(SPLIT_METHODS), default="multilabel_stratified", show_default=True,
              help="The split whose train part is measured.")
def stats_cmd(store: str, seed: int, fractions: str, method: str) -> None:
    """Per-channel mean/std of the train part at every resolution, stored in STORE. Runs
    standardize with the largest resolution's (stats_resolution: largest, the paper's) at every
    served resolution; stats_resolution: served takes each resolution's own."""
    from micro_bench_hpa.dataset import HPADataset
    from micro_bench_hpa.store import open_store, resolutions_of

    resolutions = resolutions_of(open_store(store))
    for r in resolutions:
        ds = HPADataset(store, r, stats_resolution="served")
        mean, std = ds.channel_stats(ds.split_indices("train", fractions=_floats(fractions), seed=seed, method=method))
        used = "  (used at every resolution)" if r == max(resolutions) else ""
        click.echo(f"{r:5d}  mean {' '.join(f'{m:7.3f}' for m in mean)}  std {' '.join(f'{s:7.3f}' for s in std)}{used}")



@click.command("init")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Benchmark file to write [default: <store name>.yaml in the current folder].")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
def init(store: str, out: str | None, force: bool) -> None:
    """Write a starter benchmark for STORE (logistic regression, random forest, a ResNet; a smoke profile)."""
    from pathlib import Path

    from micro_bench_hpa.starter import write_starter

    target = Path(out) if out else Path(Path(store).name.removesuffix(".zarr") + ".yaml")
    path = write_starter(store, target, force=force)
    click.echo(f"wrote {path}; try: micro-bench run {path} --profile smoke")
