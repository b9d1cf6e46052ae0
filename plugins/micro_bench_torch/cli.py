"""``micro-bench lr-find FILE`` (a path or a bundled benchmark name): the learning-rate range test on a benchmark's first run (or
``--run LABEL``), writing ``lr_find.png`` / ``lr_find.json`` and printing the suggestion."""

from __future__ import annotations

from pathlib import Path

import click

import micro_bench
from micro_bench import Host, pass_host

#: ``lr_find.LR_FIND_DEFAULTS``' sweep (fastai 0.7's ``lr_find``: 1e-5 to 10, one pass), repeated here
#: so that the command line does not import torch (a test checks they agree).
START_LR, END_LR = 1e-5, 10.0

__all__ = ["lr_find_command"]


@click.command("lr-find")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--profile", "-p", default=None, help="Profile of the benchmark file to merge (e.g. smoke).")
@click.option("--set", "overrides", multiple=True, metavar="K=V", help="Override one key, e.g. trainer.lr=0.01.")
@click.option("--run", "run_label", default=None, help="Label of the run whose components are used (default: the first).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: runs/<benchmark>/lr_find).")
@click.option("--num-iter", type=click.IntRange(min=2), default=None,
              help="Iterations (capped at one pass). [default: one pass, as fastai 0.7's lr_find]")
@click.option("--start-lr", type=click.FloatRange(min=0, min_open=True), default=START_LR,
              show_default=True, help="First rate (fastai 0.7's lr_find: 1e-5; trainer.lr: find uses the same).")
@click.option("--end-lr", type=click.FloatRange(min=0, min_open=True), default=END_LR,
              show_default=True)
@click.option("--rule", type=click.Choice(["min/10", "steepest"]), default="min/10", show_default=True,
              help="How the rate is picked: a tenth of the smoothed minimum's rate (fastai 0.7 practice) "
                   "or the steepest descent (fastai 1.0).")
@pass_host
def lr_find_command(host: Host, file: Path, profile: str | None, overrides: tuple[str, ...], run_label: str | None,
                    out: Path | None, num_iter: int | None, start_lr: float, end_lr: float, rule: str) -> None:
    """Sweep the learning rate exponentially over one pass and suggest one (paper Fig. 3)."""
    from micro_bench.errors import ConfigError
    from micro_bench_torch.lr_find import lr_find

    config = micro_bench.load_benchmark(file, profile=profile, overrides=overrides, host=host)
    runs = [r for r in config.runs if run_label is None or r.label == run_label]
    if not runs:
        labels = ", ".join(repr(r.label) for r in config.runs)
        raise ConfigError(f"{file}: no run labelled {run_label!r}; labels are {labels}")
    run = runs[0]
    built = micro_bench.prepare_run(run, host=host)
    if built.loss is None:
        raise ConfigError(f"{file}: lr-find needs a loss (runs[{run.index}].loss)")
    trainer = built.trainer
    mean, std = built.dataset.channel_stats(built.split.train)
    result = lr_find(
        built.model, built.dataset, built.split.train, loss=built.loss, start_lr=start_lr, end_lr=end_lr,
        num_iter=num_iter, batch_size=getattr(trainer, "batch_size", 64),
        lr_groups=getattr(trainer, "lr_groups", (0.1, 0.333, 1.0)),
        frozen=getattr(trainer, "freeze_epochs", 1) > 0, seed=run.seed, mean=mean, std=std,
        transform=getattr(built, "transform", None),
        device=str(trainer.runtime.device) if hasattr(trainer, "runtime") else "auto",
        bn_frozen=getattr(trainer, "bn_frozen", "eval"), rule=rule,
    )
    folder = out if out is not None else Path("runs") / config.name / "lr_find"
    path = result.save(folder)
    click.echo(f"{config.name} [{run.label}]: suggested lr {result.suggestion:.3g} ({result.rule}); "
               f"{len(result.lrs)} iterations, {result.stopped}")
    if result.warning:
        click.echo(f"warning: {result.warning}", err=True)
    click.echo(f"wrote {path} and {path.with_suffix('.png')}")

