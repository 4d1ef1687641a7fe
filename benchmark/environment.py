"""What a record says about the machine and libraries that produced it."""
from __future__ import annotations

import functools
import importlib.metadata as md
import platform
import subprocess
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "transformers", "accelerate", "timm", "numpy", "pandas", "pluggy", "lm2video-bench")


def library_versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            out[lib] = "not installed"
    return out


@functools.lru_cache(maxsize=1)
def git_sha() -> str:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return res.stdout.strip() if res.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def describe(accelerator: Any | None = None) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "libraries": library_versions(),
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "torch_threads": torch.get_num_threads(),
        "git_sha": git_sha(),
    }
    if accelerator is not None:
        env["device"] = str(accelerator.device)
        env["num_processes"] = accelerator.num_processes
        env["mixed_precision"] = accelerator.mixed_precision
        env["distributed_type"] = str(accelerator.distributed_type)
        if accelerator.device.type == "cuda":
            env["gpu_name"] = torch.cuda.get_device_name(accelerator.device)
    return env
