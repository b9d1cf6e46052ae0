"""A figure of synthetic samples: RGB composite and green channel alone, titled with classes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from micro_bench_hpa.classes import HPA_CLASSES
from micro_bench_hpa.synth.generate import synth_labels
from micro_bench_hpa.synth.render import render_sample

__all__ = ["composite", "example_indices", "save_preview"]


def composite(image: np.ndarray) -> np.ndarray:
    """``(R, R, 3) uint8`` display of a ``(4, R, R) uint8`` sample: red + yellow/2 in red and
    green, green, blue (HPA's usual rendering: yellow ER shows as orange)."""
    r, g, b, y = image.astype(np.float32)
    rgb = np.stack([r + 0.5 * y, g + 0.5 * y, b], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def example_indices(labels: np.ndarray, count: int) -> list[int]:
    """Up to ``count`` sample indices covering the most distinct classes (greedy, single-label
    samples first), from ``labels`` ``(N, 28) bool``."""
    order = np.argsort(labels.sum(axis=1), kind="stable")
    seen: set[int] = set()
    picked: list[int] = []
    for i in order:
        new = set(np.flatnonzero(labels[i]).tolist()) - seen
        if new:
            picked.append(int(i))
            seen |= new
        if len(picked) == count:
            break
    return picked


def save_preview(
    path: str | Path,
    *,
    count: int = 12,
    resolution: int = 256,
    seed: int = 0,
    difficulty: float = 0.5,
    pool: int = 600,
) -> Path:
    """Save a grid of ``count`` samples (composite above, green below) to ``path`` (PNG).

    Samples are those of ``hpa_synth(n=pool, seed=seed)`` that cover the most classes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, labels = synth_labels(pool, seed)
    picks = example_indices(labels, count)
    cols = min(6, len(picks))
    rows = 2 * int(np.ceil(len(picks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for j, i in enumerate(picks):
        img = render_sample(labels[i], resolution=resolution, seed=seed, index=i, difficulty=difficulty)
        r, c = 2 * (j // cols), j % cols
        names = [HPA_CLASSES[k] for k in np.flatnonzero(labels[i])]
        axes[r, c].imshow(composite(img))
        axes[r, c].set_title(f"#{i}", fontsize=8)
        axes[r + 1, c].imshow(img[1], cmap="gray", vmin=0, vmax=255)
        axes[r + 1, c].set_title("\n".join(names), fontsize=7)
    fig.suptitle(f"hpa_synth (seed={seed}, difficulty={difficulty}, {resolution} px): "
                 "composite (red, green, blue; yellow as orange) and green alone", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=80)
    plt.close(fig)
    # 256-colour octree palette: camera noise does not compress in RGBA (1.6 MB -> ~0.3 MB)
    rgb = Image.open(buf).convert("RGB")
    rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
    return path
