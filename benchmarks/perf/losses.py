"""Time of the bundled losses against torch's fused ``binary_cross_entropy_with_logits``.

Forward + backward on a ``(B, K)`` float32 batch (default the paper's 64 x 28), best of several
repeats, on CPU (and CUDA when available). Prints one line per loss with its ratio to torch's BCE.

    python benchmarks/perf/losses.py [--batch 64] [--classes 28] [--threads 1]
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

import torch
import torch.nn.functional as F

from micro_bench_losses.focal import FocalLoss, bce

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def time_loss(loss: Loss, logits: torch.Tensor, targets: torch.Tensor, *, number: int, repeat: int) -> float:
    """Best seconds per forward + backward of ``loss`` on ``logits (B, K)``, ``targets (B, K)``."""
    x = logits.detach().clone().requires_grad_(True)

    def step() -> None:
        x.grad = None
        loss(x, targets).backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    step()  # warm-up
    return min(timeit.repeat(step, number=number, repeat=repeat)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--classes", type=int, default=28)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--number", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    losses: dict[str, Loss] = {
        "torch bce_with_logits": F.binary_cross_entropy_with_logits,
        "bce (focal gamma=0)": bce(),
        "focal gamma=2": FocalLoss(gamma=2.0),
        "focal gamma=0.5 alpha=0.25": FocalLoss(gamma=0.5, alpha=0.25),
    }
    for device in devices:
        g = torch.Generator().manual_seed(0)
        logits = (torch.randn(args.batch, args.classes, generator=g) * 3).to(device)
        targets = (torch.rand(args.batch, args.classes, generator=g) < 0.1).float().to(device)
        times = {name: time_loss(fn, logits, targets, number=args.number, repeat=args.repeat)
                 for name, fn in losses.items()}
        reference = times["torch bce_with_logits"]
        for name, seconds in times.items():
            print(f"{device:4s} B={args.batch} K={args.classes} {name:28s} "
                  f"{seconds * 1e6:8.1f} us/step  x{seconds / reference:.2f}")


if __name__ == "__main__":
    main()
