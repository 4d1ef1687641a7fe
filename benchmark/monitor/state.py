"""The state of a matrix's cells, read from the runs folder: records (done, failed), lock files
(running, by which process on which host, heartbeat), progress files (stage, steps, ETA).

Every runner sharing the runs folder writes the same files, so this view covers cells run by other
processes and hosts as well as this one's. The ETA is an estimate from measured times: a running
cell's remaining steps at its measured step time, plus the student training still ahead of it
(the mean of the finished cells of the same dataset and student); a pending cell costs the mean
time of the finished cells of its dataset and student, less any teacher fit they included; the
sum is shared by the cells running at once."""
from __future__ import annotations

import statistics
import time
from datetime import datetime
from dataclasses import dataclass, field
from typing import Any, Iterable

from .. import locks
from ..progress import PROGRESS_FILE, STUDENT_STAGES, Snapshot, Stage
from ..status import FAILED, OK
from ..store import RunStore

DONE, RUNNING, PENDING = "done", "running", "pending"


@dataclass
class CellState:
    run_id: str
    label: str
    axes: dict[str, Any]
    status: str  # done | failed | running | pending
    reason: str = ""  # failed: the record's error; pending: a stale lock or an interrupted run
    holder: locks.LockInfo | None = None
    snapshot: Snapshot | None = None
    record: dict[str, Any] | None = None

    @property
    def stage(self) -> Stage | None:
        return self.snapshot.as_stage() if self.snapshot is not None else None

    def where(self) -> str:
        """``pid 123 on host`` of the process running the cell (the worker's when it reported)."""
        if self.snapshot is not None:
            return f"pid {self.snapshot.pid} on {self.snapshot.host}"
        return f"pid {self.holder.pid} on {self.holder.host}" if self.holder else ""

    def since(self) -> float | None:
        """When the cell started (epoch seconds), by its progress file or else its lock."""
        if self.snapshot is not None:
            return self.snapshot.cell_started
        if self.holder is not None:
            try:
                return datetime.fromisoformat(self.holder.started_at).timestamp()
            except ValueError:
                return None
        return None


@dataclass
class MatrixState:
    name: str
    cells: list[CellState]
    now: float = field(default_factory=time.time)
    #: cells that run at once (the launcher's slots); None: as many as are running now
    slots: int | None = None

    def of(self, status: str) -> list[CellState]:
        return [c for c in self.cells if c.status == status]

    def counts(self) -> dict[str, int]:
        return {s: len(self.of(s)) for s in (DONE, RUNNING, FAILED, PENDING)}

    @property
    def finished(self) -> int:
        return len(self.of(DONE)) + len(self.of(FAILED))

    @property
    def complete(self) -> bool:
        return self.finished == len(self.cells)

    def summary(self) -> str:
        """``12/40 done, 2 running, 0 failed, 26 pending``."""
        c = self.counts()
        return f"{c[DONE]}/{len(self.cells)} done, {c[RUNNING]} running, {c[FAILED]} failed, {c[PENDING]} pending"

    # -- estimates ------------------------------------------------------------------------------

    def _student_times(self) -> dict[tuple[str, str], list[float]]:
        """(dataset, student) -> seconds of the finished cells' student part (total less the
        teacher fit it included) and of their student training alone."""
        out: dict[tuple[str, str], list[float]] = {}
        for cell in self.of(DONE):
            rec = cell.record or {}
            timings = rec.get("timings") or {}
            fit = 0.0 if (rec.get("teacher_cache") or {}).get("reused", True) else float(timings.get("teacher_s", 0))
            out.setdefault(_kind(cell), []).append(max(0.0, float(timings.get("total_s", 0)) - fit))
        return out

    def _training_times(self) -> dict[tuple[str, str], list[float]]:
        out: dict[tuple[str, str], list[float]] = {}
        for cell in self.of(DONE):
            value = ((cell.record or {}).get("timings") or {}).get("train_eval_s")
            if value is not None:
                out.setdefault(_kind(cell), []).append(float(value))
        return out

    def cell_eta_s(self, cell: CellState) -> float | None:
        """Seconds a running cell has left (None: nothing measured yet)."""
        stage = cell.stage
        if stage is None:
            return None
        left = stage.eta_s(self.now)
        if stage.name not in STUDENT_STAGES:
            ahead = self._training_times().get(_kind(cell))
            if ahead:
                left = (left or 0.0) + statistics.fmean(ahead)
        return left

    def eta_s(self) -> float | None:
        """Seconds until every cell is finished (None: no cell finished or measured yet)."""
        running, pending = self.of(RUNNING), self.of(PENDING)
        if not running and not pending:
            return 0.0
        times = self._student_times()
        known = [t for ts in times.values() for t in ts]
        lefts = [self.cell_eta_s(c) for c in running]
        if not known and all(left is None for left in lefts):
            return None
        fallback = statistics.fmean(known) if known else 0.0
        work = sum(left or 0.0 for left in lefts)
        work += sum(statistics.fmean(times[_kind(c)]) if _kind(c) in times else fallback for c in pending)
        parallel = self.slots or max(1, len(running))
        return work / parallel


def _kind(cell: CellState) -> tuple[str, str]:
    return str(cell.axes.get("dataset")), str(cell.axes.get("student"))


def read_state(name: str, jobs: Iterable[Any], store: RunStore, now: float | None = None,
               slots: int | None = None) -> MatrixState:
    """The state of ``jobs`` (planned cells) in ``store``'s runs folder."""
    now = time.time() if now is None else now
    timeout = locks.default_timeout()
    cells = []
    for job in jobs:
        cells.append(_cell_state(job, store, now, timeout))
    return MatrixState(name, cells, now, slots)


def _cell_state(job: Any, store: RunStore, now: float, timeout: float) -> CellState:
    base = {"run_id": job.run_id, "label": job.cell.label, "axes": dict(job.cell.axes)}
    record = store.read_record(job.run_id)
    if record is not None:
        status = DONE if record.get("status") == OK else FAILED
        return CellState(**base, status=status, reason=str(record.get("error") or "") if status == FAILED else "",
                         record=record)
    snapshot = Snapshot.read(store.run_dir(job.run_id) / PROGRESS_FILE)
    lock_path = store.lock_path(job.run_id)
    holder = locks.read_lock(lock_path)
    if holder is not None and locks.stale_reason(holder, lock_path, timeout, now) is None:
        return CellState(**base, status=RUNNING, holder=holder, snapshot=snapshot)
    reason = ""
    if holder is not None:
        reason = f"stale lock: {locks.stale_reason(holder, lock_path, timeout, now)}"
    elif snapshot is not None:
        reason = f"interrupted at {snapshot.stage}"
    return CellState(**base, status=PENDING, reason=reason, snapshot=snapshot)


def eta_text(seconds: float | None) -> str:
    """``ETA ~31m05s``; ``ETA unknown`` before anything was measured."""
    from ..progress import duration

    return "ETA unknown" if seconds is None else f"ETA ~{duration(seconds)}"


def headline(state: MatrixState) -> str:
    """``matrix 'default': 12/40 done, 2 running, 0 failed, 26 pending, ETA ~31m05s``."""
    return f"matrix '{state.name}': {state.summary()}, " + ("complete" if state.complete else eta_text(state.eta_s()))
