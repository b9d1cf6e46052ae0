"""``micro-bench predict RUN_DIR SRC --out predictions.csv``: a finished run's model on new images.

Exit status: 0 when every image was predicted, 3 when some were skipped (listed in
``<out>.skipped.csv``; the others are predicted and written), 1 on an error (nothing written).
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["SKIPPED_EXIT", "check_outputs", "predict_command"]

#: Exit status when some images could not be read (the rest were predicted).
SKIPPED_EXIT = 3


def _owner(path: Path) -> str | None:
    """What of the tool's own ``path`` lies in: a run folder, a benchmark's or a runs folder, a store."""
    for folder in [path, *path.parents]:
        if (folder / "zarr.json").is_file():
            return f"the zarr store {folder}"
        if (folder / "result.json").is_file() or (folder / "index.json").is_file():
            return f"the runs folder {folder}"
        try:
            if folder.is_dir() and any(folder.glob("*/index.json")):
                return f"the runs folder {folder}"
        except OSError:
            continue
    return None


def check_outputs(out: Path, preview: Path | None, run_dir: Path, src: Path) -> None:
    """Refuse outputs that would overwrite what the tool wrote or reads: a path inside a runs
    folder or a store, the inputs themselves, or an existing file inside the input folder."""
    targets = [out, out.with_name(out.stem + ".skipped.csv")] + ([preview] if preview is not None else [])
    inputs = [run_dir.resolve(), src.resolve()]
    for target in targets:
        full = target.resolve()
        owner = _owner(full.parent if target is not preview else full)
        if owner is not None:
            raise click.ClickException(f"{target}: inside {owner}, which micro-bench wrote; write predictions "
                                       "elsewhere (--out, --preview)")
        for given in inputs:
            if full == given or (given in full.parents and full.exists()):
                raise click.ClickException(f"{target}: among the inputs ({given}); write predictions elsewhere")


@click.command("predict")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("predictions.csv"),
              show_default=True, help="Output CSV.")
@click.option("--run", "run_label", default=None, help="Row label, when RUN_DIR is a benchmark's runs folder.")
@click.option("--format", "fmt", type=click.Choice(["kaggle", "readable"]), default="kaggle", show_default=True,
              help="kaggle: Id,Predicted (class indices); readable: locations by class name with scores.")
@click.option("--probabilities", is_flag=True, help="Add one probability column per class name (kaggle format).")
@click.option("--threshold", default=None, metavar="0.5|tuned|prevalence|FILE",
              help="Decision thresholds (default: the run's own).")
@click.option("--no-tta", is_flag=True, help="Skip the run's test-time augmentation.")
@click.option("--preview", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for one PNG per image (channel composite, top predictions) of the first --preview-n.")
@click.option("--preview-n", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda, cuda:1...")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Images per batch (default: the run's).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes decoding images (0: in this process).")
@click.option("--pattern", default=None, metavar="PATTERN",
              help="Files of a sample in SRC, e.g. {id}_{channel}.png or {id}.ome.tif (default: the pattern the "
                   "run's store was converted with; else <id>_<color> files).")
def predict_command(run_dir: Path, src: Path, out: Path, run_label: str | None, fmt: str, probabilities: bool,
                    threshold: str | None, no_tta: bool, preview: Path | None, preview_n: int, device: str,
                    batch_size: int | None, workers: int, pattern: str | None) -> None:
    """Predict the images in SRC (a folder of <id>_<color> PNG/TIFF files, or a zarr store) with the
    model of the finished run RUN_DIR, preprocessed as the run was; write one row per image."""
    from micro_bench_predict.api import predict_source, resolve_run_dir
    from micro_bench_predict.output import (
        write_kaggle,
        write_previews,
        write_readable,
        write_skipped,
    )
    from micro_bench_predict.sources import card_input, open_source
    from micro_bench_predict.trained import load_trained, parse_threshold

    check_outputs(out, preview, run_dir, src)
    model = load_trained(resolve_run_dir(run_dir, run_label), device=device)
    parse_threshold(threshold, model.card)  # a bad rule fails before any image is read
    try:
        source = open_source(src, model.channels, model.resolution, **card_input(model.card), pattern=pattern)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    tta = model.tta["name"] if model.tta and not no_tta else "none"
    click.echo(f"{model!r}: {len(source)} images from {src}, TTA {tta}, batch "
               f"{batch_size or model.batch_size}, {workers} workers", err=True)
    pred = predict_source(model, source, threshold=threshold, batch_size=batch_size, workers=workers,
                          tta=not no_tta, progress=True, keep=preview_n if preview else 0)
    replaced = " (replaced the file that was there)" if out.exists() else ""
    if fmt == "readable":
        write_readable(out, pred)
    else:
        write_kaggle(out, pred, probabilities=probabilities)
    click.echo(f"predicted {len(pred.ids)} images in {pred.seconds:.1f} s ({pred.images_per_s:.1f} images/s); "
               f"thresholds: {pred.rule}; wrote {out}{replaced}", err=True)
    if preview is not None:
        written = write_previews(preview, pred)
        click.echo(f"wrote {len(written)} previews to {preview}", err=True)
    if pred.problems:
        report = write_skipped(out.with_name(out.stem + ".skipped.csv"), pred)
        kinds: dict[str, int] = {}
        for p in pred.problems:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        click.echo(f"skipped {len(pred.problems)} of {len(source)} images ({summary}); see {report}", err=True)
        raise SystemExit(SKIPPED_EXIT)
