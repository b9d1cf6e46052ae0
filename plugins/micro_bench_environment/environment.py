"""The machine and software a run ran on, written as ``environment.json`` in its folder: Python,
platform, CPU, torch/CUDA/cuDNN and the GPUs with the NVIDIA driver when the run used torch, and
the ``{distribution: version}`` of the component providers (as ``config.json`` records them).
No heavy import: torch is asked only if the run already imported it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["environment"]


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch() -> dict[str, Any] | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    info: dict[str, Any] = {"version": torch.__version__, "cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                            "gpus": []}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out.strip() else None


def environment(distributions: Mapping[str, str]) -> dict[str, Any]:
    """The run's machine and software, for ``environment.json``."""
    torch = _torch()
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "host": platform.node(),
        "torch": torch,
        "gpu_driver": _nvidia_driver() if torch and torch["gpus"] else None,
        "distributions": dict(distributions),
    }
