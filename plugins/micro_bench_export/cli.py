"""``micro-bench export RUN_DIR --format onnx|torchscript|bioimageio [--out PATH]``."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["export_command"]


@click.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript", "bioimageio"]), required=True,
              help="onnx (checked with onnxruntime), torchscript, or bioimageio (a BioImage.IO model package zip "
                   "with both weights, validated with bioimageio.spec).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write (default: ./<benchmark>-<label>.onnx|.pt|.zip); never inside a runs folder.")
@click.option("--run", "run_label", default=None, help="Row label, when RUN_DIR is a benchmark's runs folder.")
@click.option("--check-samples", type=click.IntRange(min=1, max=1024), default=16, show_default=True,
              help="Evaluation samples of the run the export's outputs are compared on (within 1e-4).")
@click.option("--license", "license_id", default=None, metavar="SPDX",
              help="bioimageio: the model's licence (an SPDX id, e.g. CC-BY-4.0); none is recorded unless given.")
def export_command(run_dir: Path, fmt: str, out: Path | None, run_label: str | None, check_samples: int,
                   license_id: str | None) -> None:
    """Export the trained model of the finished run RUN_DIR, with its standardisation folded in:
    (B, C, H, W) float32 pixel values -> (B, K) probabilities. The written file is loaded back and
    must reproduce the PyTorch model on the run's evaluation inputs within 1e-4 (docs/predicting.md)."""
    from micro_bench_export.export import ExportError, check_options, export_run
    from micro_bench_predict.api import resolve_run_dir
    from micro_bench_predict.card import ModelCardError

    try:
        check_options(fmt, check_samples, license_id)  # before anything is read
        done = export_run(resolve_run_dir(run_dir, run_label), fmt, out, check_samples=check_samples,
                          license=license_id)
    except (ExportError, ModelCardError) as error:
        raise click.ClickException(str(error)) from None
    if done.replaced:
        click.echo(f"replaced the earlier export at {done.path}")
    check = done.record["check"]
    extra = f", opset {done.record['opset']}" if done.record.get("opset") else ""
    click.echo(f"wrote {done.path} ({fmt}{extra}); checked on {check['inputs']}: max |difference| "
               f"{check.get('max_abs_diff', 0):.2g} <= {check['tolerance']:g}; description in {done.path}.json")
    if fmt == "bioimageio" and license_id is None:
        click.echo("note: the package records no licence for the model; pass --license SPDX (e.g. CC-BY-4.0) "
                   "before sharing it")
