"""``micro-bench data synth``: write the synthetic dataset as a store, PNGs or a preview."""

from __future__ import annotations

import click

__all__ = ["synth"]


def _resolutions(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        res = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 64 or 256,64, got {value!r}") from None
    if any(r < 8 for r in res):
        raise click.BadParameter(f"resolutions must be >= 8 pixels, got {value!r}")
    return res


@click.command("synth")
@click.argument("dest", type=click.Path(path_type=str))
@click.option("--n", "n", type=click.IntRange(min=1), default=600, show_default=True, help="Number of samples.")
@click.option("--resolution", "resolution", default=None, callback=_resolutions,
              help="Side length(s) in pixels, comma-separated for a multi-resolution store "
                   "[default: 64; 512 with --png, the size `data convert` reads].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of labels and images.")
@click.option("--difficulty", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="0..1: noise, blur, intensity jitter, lower pattern contrast.")
@click.option("--png", is_flag=True, help="Write the Kaggle layout (train.csv + train/<id>_<color>.png).")
@click.option("--preview", is_flag=True, help="DEST is a .png figure of example samples per class.")
@click.option("--overwrite", is_flag=True, help="With --png: allow writing into a non-empty DEST.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Store: processes rendering blocks in parallel (same bytes for any number).")
def synth(dest: str, n: int, resolution: tuple[int, ...] | None, seed: int, difficulty: float,
          png: bool, preview: bool, overwrite: bool, workers: int) -> None:
    """Generate the synthetic HPA-like dataset (real HPA label sets, rendered cells) at DEST."""
    if png and preview:
        raise click.UsageError("--png and --preview are exclusive")
    if resolution is None:
        resolution = (512,) if png else (64,)
    if preview:
        from micro_bench_hpa.synth.preview import save_preview

        path = save_preview(dest, resolution=max(resolution), seed=seed, difficulty=difficulty, pool=n)
    elif png:
        from micro_bench_hpa.synth.generate import write_png_layout

        if len(resolution) > 1:
            raise click.BadParameter("--png writes one resolution", param_hint="--resolution")
        from pathlib import Path

        target = Path(dest)
        if target.exists() and not target.is_dir():
            raise click.ClickException(f"{dest}: exists and is not a folder; --png writes a folder")
        if target.is_dir() and any(target.iterdir()) and not overwrite:
            raise click.ClickException(
                f"{dest}: folder is not empty (it would overwrite train.csv and PNGs); choose an "
                "empty or new folder, or pass --overwrite")
        path = write_png_layout(dest, n=n, resolution=resolution[0], seed=seed,
                                difficulty=difficulty, progress=True)
        from micro_bench_hpa.readers import ALLOWED_SIZES

        if resolution[0] not in ALLOWED_SIZES:
            click.echo(f"note: `micro-bench data convert` reads {', '.join(map(str, ALLOWED_SIZES))} px "
                       f"images only, not {resolution[0]} px")
    else:
        from micro_bench_hpa.synth.generate import generate_store
        from micro_bench_hpa.synth.heap import retain_freed_buffers

        # This command is its own process, so it may tune malloc for the renderer (about 1.6x at
        # 512 px); a library call (the hpa_synth factory inside a training run) leaves it alone.
        retain_freed_buffers()

        path = generate_store(dest, n=n, resolutions=resolution, seed=seed, difficulty=difficulty,
                              progress=True, workers=workers)
    click.echo(f"wrote {path}")
