"""A cell's time and memory limits, and the peak resident memory they are checked against."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from ..errors import BenchError


class BudgetExceeded(BenchError):
    """A cell went over its ``train.time_budget_s`` or ``train.memory_budget_mb``."""


def reset_peak_rss() -> bool:
    """Restart the peak-resident-memory counter of this process (Linux); False where impossible,
    and the peak then covers the whole process lifetime."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (since the last :func:`reset_peak_rss`)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    import resource  # POSIX only

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


@dataclass
class Budget:
    """Time and memory limits of one cell (0 = none), checked between training steps."""

    time_s: float = 0.0
    memory_mb: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def check(self) -> None:
        if self.time_s > 0:
            elapsed = time.perf_counter() - self.started
            if elapsed > self.time_s:
                raise BudgetExceeded(f"time budget exceeded ({elapsed:.2f} s > {self.time_s:g} s)")
        if self.memory_mb > 0:
            peak = peak_rss_mb()
            if peak > self.memory_mb:
                raise BudgetExceeded(
                    f"memory budget exceeded ({peak:.0f} MB > {self.memory_mb:g} MB peak resident memory)"
                )
