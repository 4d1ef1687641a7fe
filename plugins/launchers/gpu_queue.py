"""A queue of independent cells spread over the GPUs of this machine: each free GPU (or group of
``num_processes`` GPUs, for data-parallel cells) takes the next cell, in its own process with
``CUDA_VISIBLE_DEVICES`` set to that GPU. Without GPUs, ``slots`` CPU processes run at a time.
Records come back as cells finish."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from benchmark.errors import ConfigError
from benchmark.settings import setting

from .process import ProcessLauncher


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names them."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # no usable CUDA runtime: a CPU machine
        return []


class QueueLauncher(ProcessLauncher):
    name = "queue"
    version = "1"
    description = "independent cells in parallel, one per GPU (or `slots` CPU processes), each in its own process"

    @dataclass
    class Config(ProcessLauncher.Config):
        #: GPU ids to use (CUDA_VISIBLE_DEVICES names); empty: every visible GPU
        gpus: list[int | str] = field(default_factory=list)
        #: cells at a time when no GPU is used; 0: one per CPU core, at most one per 3 GiB of memory
        slots: int = setting(1, ge=0)
        #: threads per CPU rank (0: the machine's cores shared evenly among the running ranks)
        cpu_threads: int = setting(0, ge=0)
        #: run on CPU slots even when GPUs are visible
        cpu: bool = False

    def slots(self) -> list[dict[str, str]]:
        cfg = self.config
        gpus = [] if cfg.cpu else ([str(g) for g in cfg.gpus] or visible_gpus())
        if gpus:
            n = cfg.num_processes
            if len(gpus) < n:
                raise ConfigError(f"launcher {self.name}: num_processes {n} needs {n} GPUs per cell, "
                                  f"only {len(gpus)} available ({','.join(gpus)})")
            return [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[i:i + n])} for i in range(0, len(gpus) - n + 1, n)]
        n_slots = cfg.slots or auto_slots(cfg.num_processes)
        ranks = n_slots * cfg.num_processes
        threads = cfg.cpu_threads or max(1, (os.cpu_count() or 1) // ranks)
        # CUDA_VISIBLE_DEVICES="" keeps a CPU slot off any GPU that appears later
        slot = {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": str(threads)}
        return [dict(slot) for _ in range(n_slots)]


def auto_slots(num_processes: int = 1, gib_per_rank: float = 3.0) -> int:
    """CPU cells at a time for ``slots: 0``: one rank per core (for cells of a minute or more,
    one-thread processes side by side beat one process on every core: docs/performance.md), but
    no more ranks than memory holds at ``gib_per_rank`` each (a real-annotation cell peaks near
    2.4 GB)."""
    cores = os.cpu_count() or 1
    try:
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (ValueError, OSError, AttributeError):
        memory_gib = gib_per_rank * cores
    return max(1, min(cores, int(memory_gib // gib_per_rank)) // max(1, num_processes))
