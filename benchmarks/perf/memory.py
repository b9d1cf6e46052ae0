"""Training memory of ResNet50 (4 channels, 28 classes, fp32) per image at a resolution, on the CPU.

Peak resident memory above the model after one forward + backward pass of a batch, divided by the
batch size: the activations and gradients a GPU would also hold (cuDNN's workspaces aside), for
sizing ``batch_size`` / ``micro_batch_size`` at 512 px (docs/beyond.md).

    python benchmarks/perf/memory.py --resolution 256 --batch 4
    python benchmarks/perf/memory.py --resolution 512 --batch 4

Run each resolution in its own process (peak RSS only grows).
"""

from __future__ import annotations

import argparse
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--model", default="resnet50")
    args = parser.parse_args()
    import timm
    import torch

    model = timm.create_model(args.model, pretrained=False, num_classes=28, in_chans=4)
    model.train()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    x = torch.randn(args.batch, 4, args.resolution, args.resolution)
    start = time.perf_counter()
    model(x).sum().backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_image = (peak - base) / 1024 / args.batch
    print(f"{args.model} {args.resolution} px, batch {args.batch}: {per_image:.0f} MB per image "
          f"(peak RSS above the model {(peak - base) / 1024:.0f} MB), one step {seconds:.1f} s on "
          f"{torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
