"""Writing predictions: the Kaggle submission CSV, the readable table, the skip report, previews."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import TracebackType

import numpy as np

from micro_bench.results import atomic_write_text
from micro_bench_predict.api import Predictions

__all__ = ["readable_rows", "write_kaggle", "write_previews", "write_readable", "write_skipped"]


class _open(io.StringIO):  # noqa: N801 - used as a file-opening context manager
    """A text buffer written to ``path`` atomically on a clean exit (an existing file is never
    left half-written)."""

    def __init__(self, path: Path) -> None:
        super().__init__(newline="")
        self.path = path

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            atomic_write_text(self.path, self.getvalue())
        super().__exit__(kind, error, tb)


def write_kaggle(path: Path, pred: Predictions, *, probabilities: bool = False) -> Path:
    """``Id,Predicted`` (space-separated class indices; empty when none passes its threshold),
    plus one probability column per class name with ``probabilities``."""
    with _open(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "Predicted", *(pred.classes if probabilities else [])])
        for sample_id, labels, row in zip(pred.ids, pred.predicted(), pred.proba, strict=True):
            # repr: the shortest text that reads back as the same double, so a probability read
            # from the file gives the same label against a threshold as the one written.
            writer.writerow([sample_id, labels, *([repr(float(v)) for v in row] if probabilities else [])])
    return path


def readable_rows(pred: Predictions, top: int = 3) -> list[list[str]]:
    """Per image: its id, how many locations pass their thresholds, those locations by class name
    with scores (highest first), and the ``top`` highest-scoring classes whether or not they pass."""
    rows = []
    for sample_id, labels, scores in zip(pred.ids, pred.labels, pred.proba, strict=True):
        order = np.argsort(-scores, kind="stable")
        chosen = [f"{pred.classes[k]} ({scores[k]:.3f})" for k in order if labels[k]]
        best = [f"{pred.classes[k]} ({scores[k]:.3f})" for k in order[:top]]
        rows.append([sample_id, str(len(chosen)), "; ".join(chosen) or "(none above threshold)", "; ".join(best)])
    return rows


def write_readable(path: Path, pred: Predictions, top: int = 3) -> Path:
    """A CSV a biologist can read: ``Id, n_locations, locations, most_likely``."""
    with _open(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "n_locations", "locations", "most_likely"])
        writer.writerows(readable_rows(pred, top))
    return path


def write_skipped(path: Path, pred: Predictions) -> Path:
    """``Id,problem,file,detail`` for every sample that was not predicted."""
    with _open(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "problem", "file", "detail"])
        writer.writerows([p.id, p.kind, p.path, p.detail] for p in pred.problems)
    return path


def composite(image: np.ndarray) -> np.ndarray:
    """``(4, R, R) uint8`` red, green, blue, yellow -> ``(R, R, 3) uint8`` RGB, the HPA way:
    yellow (ER) adds to red and green."""
    red, green, blue, yellow = (c.astype(np.float32) for c in image[:4])
    rgb = np.stack([red + 0.5 * yellow, green + 0.5 * yellow, blue], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def write_previews(folder: Path, pred: Predictions, top: int = 3) -> list[Path]:
    """One PNG per kept image: the channel composite with the top predictions as the caption."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    position = {sample_id: i for i, sample_id in enumerate(pred.ids)}
    out = []
    for sample_id, image in pred.first:
        i = position[sample_id]
        scores = pred.proba[i]
        lines = [f"{pred.classes[k]}: {scores[k]:.3f}" + (" *" if pred.labels[i, k] else "")
                 for k in np.argsort(-scores, kind="stable")[:top]]
        fig, ax = plt.subplots(figsize=(4, 4.9))
        ax.imshow(composite(image) if image.shape[0] >= 4 else image[0], interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(sample_id, fontsize=8)
        fig.text(0.5, 0.02, "\n".join(lines), ha="center", va="bottom", fontsize=9)
        fig.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.18)
        path = folder / f"{sample_id}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        out.append(path)
    return out
