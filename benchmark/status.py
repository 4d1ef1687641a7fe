"""The statuses of a cell and the rules on them, shared by the in-process runner, the worker and
the launchers: which cells a run runs, and the (never written) result of a cell left to another
runner."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .locks import CellLock
    from .run.jobs import Job
    from .store import RunStore

OK = "ok"
FAILED = "failed"
PENDING = "pending"  # planned, no record yet
#: statuses of cells a runner left to another runner (returned by execute, never written)
RUNNING_ELSEWHERE = "running_elsewhere"
RECORDED_ELSEWHERE = "recorded_elsewhere"
NOT_RUN = (RUNNING_ELSEWHERE, RECORDED_ELSEWHERE)


def should_run(status: str, force: bool = False, rerun_failed: bool = False) -> bool:
    """Whether a cell recorded as ``status`` runs: those without a record, failed ones too with
    ``rerun_failed``, every one with ``force``."""
    return force or status == PENDING or (rerun_failed and status == FAILED)


def not_run(job: "Job", status: str, reason: str) -> dict[str, Any]:
    """The result (never written as a record) for a cell left to another runner."""
    cell = job.cell
    return {"run_id": job.run_id, "status": status, "error": reason, "matrix": cell.matrix,
            "cell": {**cell.axes, "feature_source": cell.feature_source, "label": cell.label,
                     "baseline": cell.baseline},
            "metrics": {}, "timings": {"total_s": 0.0}}


def claim(job: "Job", lock: "CellLock | None", store: "RunStore") -> dict[str, Any] | None:
    """None when this runner may run ``job`` (``lock``, when there is one, taken: the caller
    releases it after the cell), else the not-run result, with no lock held: another runner
    holds the cell, or recorded it since this one planned."""
    if lock is not None and not lock.acquire():
        holder = lock.owner.describe() if lock.owner else "holder unknown"
        return not_run(job, RUNNING_ELSEWHERE, f"running elsewhere ({holder})")
    if job.status == PENDING and store.status(job.run_id) != PENDING:
        if lock is not None:
            lock.release()
        return not_run(job, RECORDED_ELSEWHERE, "recorded by another runner meanwhile")
    return None
