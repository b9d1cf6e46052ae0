"""Is hpa_synth learnable, and does a CNN beat pixel logistic regression on it (as on HPA)?

Renders ``hpa_synth`` (default n=600, 64 px), splits 80/20 (the project's iterative
multilabel stratification), fits logistic regression (one-vs-rest, standardized flattened pixels: the
paper's baseline) and a small 4-layer CNN trained for a fixed budget on one CPU thread, and
prints macro ROC-AUC and macro-F1 (threshold 0.5 and per-class thresholds tuned on train) on
the held-out part, beside chance levels.

    python benchmarks/perf/synth_separability.py [--n 600] [--resolution 64] [--difficulty 0.5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from micro_bench_hpa.split import stratified_split
from micro_bench_hpa.synth.generate import synth_labels
from micro_bench_hpa.synth.render import render_batch


def macro_scores(y: np.ndarray, score: np.ndarray, thresholds: np.ndarray | float = 0.5) -> dict[str, float]:
    """Macro ROC-AUC and macro-F1 over the classes present (positives and negatives) in ``y``."""
    ok = (y.sum(0) > 0) & (y.sum(0) < len(y))
    auc = roc_auc_score(y[:, ok], score[:, ok], average="macro")
    f1 = f1_score(y[:, ok], score[:, ok] >= np.broadcast_to(thresholds, ok.shape)[ok], average="macro", zero_division=0)
    return {"roc_auc": float(auc), "f1": float(f1)}


def tuned_thresholds(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per-class threshold maximizing F1 on ``(y, score)`` (the train part)."""
    grid = np.linspace(0.05, 0.95, 19)
    f1 = [[f1_score(y[:, k], score[:, k] >= t, zero_division=0) for t in grid] for k in range(y.shape[1])]
    return grid[np.argmax(np.asarray(f1), axis=1)]


def small_cnn(k: int) -> nn.Module:
    def block(i: int, o: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(block(4, 24), block(24, 48), block(48, 64), block(64, 96),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(96, k))


def train_cnn(x: np.ndarray, y: np.ndarray, seconds: float, seed: int) -> nn.Module:
    """Adam with flips/rot90 augmentation until ``seconds`` elapse (at least 5 epochs)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = small_cnn(y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    loss_fn = nn.BCEWithLogitsLoss()
    start, epoch = time.perf_counter(), 0
    while epoch < 5 or time.perf_counter() - start < seconds:
        model.train()
        for idx in torch.randperm(len(xt), generator=g).split(32):
            xb = xt[idx]
            if torch.rand(1, generator=g) < 0.5:
                xb = xb.flip(3)
            xb = torch.rot90(xb, int(torch.randint(4, (1,), generator=g)), (2, 3))
            opt.zero_grad()
            loss_fn(model(xb), yt[idx]).backward()
            opt.step()
        epoch += 1
    print(f"  cnn: {epoch} epochs in {time.perf_counter() - start:.0f} s")
    return model


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    return torch.sigmoid(model(torch.from_numpy(x))).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--difficulty", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cnn-seconds", type=float, default=90.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        t = time.perf_counter()
        _, y = synth_labels(args.n, args.seed)
        images = render_batch(y, resolution=args.resolution, seed=args.seed, difficulty=args.difficulty)
        print(f"rendered {args.n} x {args.resolution} px in {time.perf_counter() - t:.1f} s")
        parts = stratified_split(y, (0.8, 0.2, 0.0), seed=args.seed)
        tr, te = np.flatnonzero(parts == 0), np.flatnonzero(parts == 1)
        x = images.astype(np.float32)
        mean, std = x[tr].mean((0, 2, 3), keepdims=True), x[tr].std((0, 2, 3), keepdims=True)
        x = (x - mean) / std
        keep = y[tr].any(0)  # a class absent from train cannot be fitted
        ytr = y[tr][:, keep]

        t = time.perf_counter()
        flat = StandardScaler().fit(x[tr].reshape(len(tr), -1))
        lr = OneVsRestClassifier(LogisticRegression(C=0.01, max_iter=300))
        lr.fit(flat.transform(x[tr].reshape(len(tr), -1)), ytr)
        lr_tr = lr.predict_proba(flat.transform(x[tr].reshape(len(tr), -1)))
        lr_te = lr.predict_proba(flat.transform(x[te].reshape(len(te), -1)))
        print(f"  logreg: {time.perf_counter() - t:.0f} s")
        cnn = train_cnn(x[tr], ytr, args.cnn_seconds, args.seed)
        cnn_tr, cnn_te = predict(cnn, x[tr]), predict(cnn, x[te])

    yte = y[te][:, keep]
    chance_f1 = float(np.mean([2 * p / (1 + p) for p, ok in zip(yte.mean(0), (yte.sum(0) > 0) & (yte.sum(0) < len(yte)), strict=True) if ok]))
    print(f"hpa_synth n={args.n} R={args.resolution} difficulty={args.difficulty} seed={args.seed}: "
          f"{len(tr)} train / {len(te)} test, {int(keep.sum())} classes")
    print(f"{'model':10s} {'macro ROC-AUC':>14s} {'macro-F1@0.5':>13s} {'macro-F1 tuned':>15s}")
    print(f"{'chance':10s} {0.5:14.3f} {'':13s} {chance_f1:15.3f}  (all-positive F1)")
    for name, s_tr, s_te in (("logreg", lr_tr, lr_te), ("small CNN", cnn_tr, cnn_te)):
        at05 = macro_scores(yte, s_te)
        tuned = macro_scores(yte, s_te, tuned_thresholds(ytr, s_tr))
        print(f"{name:10s} {at05['roc_auc']:14.3f} {at05['f1']:13.3f} {tuned['f1']:15.3f}")


if __name__ == "__main__":
    main()
