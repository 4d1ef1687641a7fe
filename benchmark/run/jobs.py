"""What a run works on and reports: a job per cell, the summary of a run, and the journal of
what this process did (for the report after Ctrl-C)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..matrix import Cell
from ..status import NOT_RUN, OK

DEFAULT_DATA_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lm2video-bench" / "data"


def default_data_dir() -> Path:
    env = os.environ.get("BENCH_DATA_DIR")
    return Path(env) if env else DEFAULT_DATA_DIR


@dataclass
class Job:
    cell: Cell
    run_id: str
    identity: dict[str, Any]
    status: str  # status before this invocation: ok | failed | pending


@dataclass
class Summary:
    jobs: list[Job]
    executed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.executed if r.get("status") not in (OK, *NOT_RUN)]

    @property
    def elsewhere(self) -> list[dict[str, Any]]:
        """Cells left to another runner (locked by it, or recorded by it meanwhile)."""
        return [r for r in self.executed if r.get("status") in NOT_RUN]


@dataclass
class Journal:
    """The cells :meth:`Runner.execute` finished or was interrupted in, in this process."""

    finished: list[dict[str, Any]] = field(default_factory=list)
    interrupted: list[Job] = field(default_factory=list)
    elsewhere: list[dict[str, Any]] = field(default_factory=list)  # left to another runner
    current: Job | None = None


def data_kind(dataset_kind: str, feature_kind: str) -> str:
    """How to label results: ``synthetic`` data, ``simulated`` features, or ``real``."""
    if dataset_kind == "synthetic":
        return "synthetic"
    if feature_kind == "simulated":
        return "simulated"
    return "real"


def run_order(jobs: list[Job]) -> list[Job]:
    """The order cells are handed to the launcher: a cheap cell first, then the first cell of
    each (dataset, teacher), teacher by teacher, each followed by another cheap cell, then the
    rest in matrix order. Cheap cells are those without a teacher.

    A cell fits its teacher when the cache has none yet, and a cell that needs a teacher another
    cell is fitting waits for it: starting the fits early, side by side, keeps slots from waiting
    (with ``--launcher queue``), and the cheap cells between them put the first rows on the
    leaderboard within minutes while a long fit runs in another slot."""
    fits, cheap, rest, seen = [], [], [], set()
    for job in jobs:
        key = (job.cell.dataset, job.cell.teacher)
        if job.cell.teacher == "none":
            cheap.append(job)
        elif key not in seen:
            seen.add(key)
            fits.append(job)
        else:
            rest.append(job)
    # teacher-major (the matrix's teacher order, each on every dataset): the fits of the first
    # teacher of the axis, usually the largest model, start first
    teachers = list(dict.fromkeys(j.cell.teacher for j in fits))
    fits.sort(key=lambda j: teachers.index(j.cell.teacher))
    order = cheap[:1]
    for i, fit in enumerate(fits):
        order += [fit, *cheap[i + 1:i + 2]]
    return order + cheap[len(fits) + 1:] + rest
