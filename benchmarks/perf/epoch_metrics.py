"""Cost of per-epoch validation metrics (``trainer: {epoch_metrics: [f1_macro, roc_auc_macro]}``).

The validation forward pass is shared with ``val_loss``, so the added work is the sigmoid, the
copy to the host and the metric computation. Measured here, in one process, as a ratio against
the training epoch of the same run (``history["seconds"]``, the training loop), alternating
trials with and without metrics; the median of the ratios is reported.

    python benchmarks/perf/epoch_metrics.py                          # CPU, resnet18_4ch, 64 px
    python benchmarks/perf/epoch_metrics.py --device cuda --arch resnet50_4ch --res 256 --n 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import numpy as np
import torch
from torch import nn

from micro_bench import RunContext, Split
from micro_bench.host import Host
from micro_bench_resnet import model as resnets
from micro_bench_torch.epochs import EPOCH_METRICS, epoch_metrics
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_torch.trainer import TorchTrainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="resnet18_4ch")
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--k", type=int, default=28)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--trials", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    ds = synthetic_dataset(n=args.n, k=args.k, resolution=args.res)
    split = Split.of(ds)
    evaluate = epoch_metrics(Host.load(entrypoints=False).registries["metric"])
    names = ["f1_macro", "roc_auc_macro"]
    # 1. the metric computation alone, on this validation size and on the real HPA's (3,107 x 28)
    rng = np.random.default_rng(0)
    direct = {}
    for n_val in (len(split.val), 3107):
        y, s = rng.random((n_val, args.k)) < 0.1, rng.random((n_val, args.k))
        t = time.perf_counter()
        for _ in range(10):
            evaluate(names, y, s)
        direct[n_val] = (time.perf_counter() - t) / 10
    # 2. whole fits with and without, alternating
    rows = []
    for trial in range(args.trials):
        for on in (False, True):
            ctx = RunContext(directory=tempfile.mkdtemp(), progress=False, log=lambda s: None)
            ctx.stash[EPOCH_METRICS] = evaluate
            trainer = TorchTrainer(batch_size=args.batch, freeze_epochs=0, epochs=1, device=args.device,
                                   checkpoint=False, epoch_metrics=names if on else ())
            torch.manual_seed(trial)
            model: nn.Module = getattr(resnets, args.arch)(num_classes=args.k, pretrained=False)
            t = time.perf_counter()
            history = trainer.fit(model, ds, split, loss=nn.BCEWithLogitsLoss(), schedule=None, context=ctx)
            rows.append({"metrics": on, "fit_s": time.perf_counter() - t, "train_epoch_s": history["seconds"][0]})
    epoch = statistics.median(r["train_epoch_s"] for r in rows)
    fit_on = statistics.median(r["fit_s"] for r in rows if r["metrics"])
    fit_off = statistics.median(r["fit_s"] for r in rows if not r["metrics"])
    print(json.dumps({
        "config": vars(args), "n_val": len(split.val), "train_epoch_s_median": round(epoch, 3),
        "metrics_alone_s": {str(k): round(v, 5) for k, v in direct.items()},
        "metrics_alone_pct_of_epoch": round(100 * direct[len(split.val)] / epoch, 3),
        "fit_ratio_on_over_off": round(fit_on / fit_off, 4), "trials": rows,
    }, indent=1))


if __name__ == "__main__":
    main()
