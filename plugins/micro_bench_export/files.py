"""The export plugin's file-level helpers: writing ONNX and TorchScript files atomically, running
them back (onnxruntime, ``torch.jit.load``) and comparing their outputs; used by
:mod:`micro_bench_export.export` and :mod:`micro_bench_export.bioimageio` (which import this
module, not each other)."""

from __future__ import annotations

import glob
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench.errors import MicroBenchError

__all__ = ["PAPER", "TOLERANCE", "ExportError", "clean_stale_parts"]

#: Largest absolute difference allowed between the export's and PyTorch's probabilities.
TOLERANCE = 1e-4


#: The paper the toolkit reproduces (cited in every BioImage.IO package).
PAPER = {
    "text": "Ruge Zhao and Siyi Tang: Predicting Protein Organelle Localization with Transfer Learning "
            "(the recipe micro-bench reproduces; the report has no DOI: the URL is the Human Protein "
            "Atlas Kaggle challenge whose data it used)",
    "url": "https://www.kaggle.com/c/human-protein-atlas-image-classification/data",
}


class ExportError(MicroBenchError, ValueError):
    """An export that cannot be made or that does not reproduce the run (one line)."""


def _part_prefix(path: Path) -> str:
    """Temporary files of an export to ``path`` are ``.<name>.<pid>.*.part`` beside it."""
    return f".{path.name}.{os.getpid()}."


def clean_stale_parts(path: Path) -> list[Path]:
    """Remove the temporary files a killed export to ``path`` left beside it (those whose writing
    process is gone); returns them."""
    removed = []
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part*"):
        pid = part.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)
            removed.append(part)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


@contextmanager
def _atomic(path: Path, before_replace: Callable[[], None] | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` that becomes ``path`` when the block ends without error
    (``before_replace`` runs just before the rename). A kill -9 leaves ``path`` as it was and a
    ``.<name>.<pid>.*.part`` file that :func:`clean_stale_parts` removes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_part_prefix(path), suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        from micro_bench.results import file_mode

        os.chmod(tmp, file_mode())  # mkstemp's 0600 would stay on the exported file
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _onnx(module: Any, example: Any, path: Path) -> dict[str, Any]:
    """Write ``module`` as ONNX to ``path`` (a temporary file: the caller renames it once checked)."""
    import onnx
    import torch

    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(module, (example,), dynamo=True, input_names=["image"],
                                output_names=["probabilities"], dynamic_shapes=({0: batch},),
                                verbose=False)
    if program is None:  # pragma: no cover - torch's exporter returns the program when dynamo=True
        raise ExportError("torch.onnx.export returned no program")
    program.save(str(path), external_data=False)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    opsets = {o.domain or "ai.onnx": int(o.version) for o in model.opset_import}
    return {"opset": opsets.get("ai.onnx"), "opsets": opsets, "exporter": f"torch.onnx (dynamo) {torch.__version__}",
            "ir_version": int(model.ir_version)}


def _torchscript(module: Any, example: Any, path: Path) -> dict[str, Any]:
    """Write ``module`` as TorchScript to ``path`` (a temporary file, as :func:`_onnx`)."""
    import torch

    with torch.no_grad(), warnings.catch_warnings():
        # torch >= 2.9 deprecates torch.jit; TorchScript is still what deepImageJ and
        # bioimageio.core load, and the trace is checked against the module after writing
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, (example,), check_trace=True)
        torch.jit.save(traced, str(path))
    return {"exporter": f"torch.jit.trace {torch.__version__}"}


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _run_torchscript(path: Path, x: np.ndarray) -> np.ndarray:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def _compare(name: str, got: np.ndarray, want: np.ndarray, path: Path) -> float:
    if got.shape != want.shape:
        raise ExportError(f"{path}: the {name} export returns shape {got.shape}, PyTorch {want.shape}")
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
    if not diff <= TOLERANCE:
        raise ExportError(f"{path}: the {name} export differs from the PyTorch model by {diff:.3g} "
                          f"(> {TOLERANCE:g}) on the run's evaluation inputs; not written")
    return diff
