"""Progress of long work: the object a cell's steps and its plugins report to, and the sinks that
pass it on to whoever watches.

A cell's :class:`Progress` is handed to its teacher (``FitContext.progress``), its feature source
(``LoadContext.progress``) and the student's training loop. They call :meth:`Progress.start` when
a stage begins (with its number of steps when known), :meth:`Progress.advance` after each step and
:meth:`Progress.detail` for what a step count does not say (the epoch), or wrap a loop in
:meth:`Progress.iterate`. Calls are cheap: the sinks decide when to write.

Sinks: :class:`ProgressFile` keeps ``runs/<run_id>/progress.json`` current (at most once a second,
at once on a new stage), which the live view of ``bench run`` and ``bench status`` read, also for
cells another process runs; :class:`PlainLines` prints a line at each new stage and at most every
30 s during one, for logs and non-terminals.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from . import atomic

PROGRESS_FILE = "progress.json"
#: a progress file is rewritten at most this often within a stage
WRITE_EVERY_S = 1.0
#: plain lines within one long stage come at most this often
PLAIN_EVERY_S = 30.0

T = TypeVar("T")

#: the stages the core reports for every cell (plugins name their own, e.g. "teacher fit")
READING, FEATURES, TEACHER, TRAINING, EVALUATION = (
    "reading data", "features", "teacher", "student training", "evaluation")
#: stages at which a cell's student training has begun
STUDENT_STAGES = (TRAINING, EVALUATION)


@dataclass
class Stage:
    """Where a piece of work is: its stage, steps done of ``total`` (None: unknown), a detail."""

    name: str
    total: int | None = None
    unit: str = "step"
    done: int = 0
    detail: str = ""
    started: float = field(default_factory=time.time)

    def elapsed_s(self, now: float) -> float:
        return max(0.0, now - self.started)

    def eta_s(self, now: float) -> float | None:
        """Seconds left in the stage, from the mean time of the steps measured so far."""
        if not self.total or self.done <= 0:
            return None
        return max(0, self.total - self.done) * self.elapsed_s(now) / self.done

    def describe(self, now: float) -> str:
        """``teacher fit, epoch 1/2, 340/1200 steps (28%), 3m10s, ETA 8m02s``."""
        parts = [self.name]
        if self.detail:
            parts.append(self.detail)
        units = plural(self.unit)
        if self.total:
            parts.append(f"{self.done}/{self.total} {units} ({100 * self.done / self.total:.0f}%)")
        elif self.done:
            parts.append(f"{self.done} {units}")
        parts.append(duration(self.elapsed_s(now)))
        eta = self.eta_s(now)
        if eta is not None:
            parts.append(f"ETA {duration(eta)}")
        return ", ".join(parts)


class Sink(Protocol):
    def report(self, stage: Stage, new_stage: bool) -> None: ...


class Progress:
    """What long work reports to; a Progress without sinks (:data:`SILENT`) reports to nobody."""

    def __init__(self, sinks: Iterable[Sink] = (), clock: Callable[[], float] = time.time):
        self.sinks = list(sinks)
        self.clock = clock
        self.stage: Stage | None = None

    def start(self, stage: str, total: int | None = None, unit: str = "step", detail: str = "") -> None:
        """A new stage begins (``total`` steps, when known)."""
        self.stage = Stage(stage, int(total) if total else None, unit, 0, detail, self.clock())
        self._report(True)

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current stage are done."""
        if self.stage is not None:
            self.stage.done += steps
            self._report(False)

    def detail(self, text: str) -> None:
        """What the step count does not say, e.g. ``epoch 2/4``."""
        if self.stage is not None:
            self.stage.detail = text
            self._report(False)

    def iterate(self, items: Iterable[T], stage: str | None = None, total: int | None = None,
                unit: str = "step", detail: str = "") -> Iterator[T]:
        """Yield ``items``, one step each; with ``stage``, start that stage first (its total from
        ``total`` or ``len(items)``)."""
        if stage is not None:
            if total is None and hasattr(items, "__len__"):
                total = len(items)  # type: ignore[arg-type]
            self.start(stage, total, unit, detail)
        if not self.sinks:
            yield from items
            return
        for item in items:
            yield item
            self.advance()

    def _report(self, new_stage: bool) -> None:
        assert self.stage is not None
        for sink in self.sinks:
            sink.report(self.stage, new_stage)


#: reports to nobody (the default of every context)
SILENT = Progress()


@dataclass
class Snapshot:
    """What ``progress.json`` holds: the running cell, its process and where it is."""

    run_id: str
    label: str
    pid: int
    host: str
    cell_started: float
    stage: str
    stage_started: float
    done: int
    total: int | None
    unit: str
    detail: str
    updated: float

    def as_stage(self) -> Stage:
        return Stage(self.stage, self.total, self.unit, self.done, self.detail, self.stage_started)

    @classmethod
    def read(cls, path: Path) -> "Snapshot | None":
        """The snapshot in ``path``; None when it is missing or unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            return None


class _Throttled:
    """A sink that passes a report on at each new stage and at most every ``every_s`` within one."""

    def __init__(self, clock: Callable[[], float], every_s: float):
        self.clock, self.every_s = clock, every_s
        self.last = -float("inf")

    def report(self, stage: Stage, new_stage: bool) -> None:
        now = self.clock()
        if new_stage or now - self.last >= self.every_s:
            self.last = now
            self.emit(stage, now)

    def emit(self, stage: Stage, now: float) -> None:
        raise NotImplementedError


class ProgressFile(_Throttled):
    """Keeps ``path`` (a :class:`Snapshot`) current, replaced atomically."""

    def __init__(self, path: Path, run_id: str, label: str, clock: Callable[[], float] = time.time,
                 every_s: float = WRITE_EVERY_S):
        super().__init__(clock, every_s)
        self.path, self.run_id, self.label = path, run_id, label
        self.cell_started = clock()

    def emit(self, stage: Stage, now: float) -> None:
        snap = Snapshot(self.run_id, self.label, os.getpid(), socket.gethostname(), self.cell_started, stage.name,
                        stage.started, stage.done, stage.total, stage.unit, stage.detail, now)
        try:
            atomic.write_json(self.path, asdict(snap))
        except OSError:
            pass  # progress is for watching; a full disk must not fail the cell


class PlainLines(_Throttled):
    """A line per new stage and at most one every ``every_s`` within a stage, through ``write``
    (default: stdout):
    ``15:02:11 egtea/bert/avt/kl/0: teacher fit, epoch 1/2, 340/1200 steps (28%), 3m10s, ETA 8m02s``."""

    def __init__(self, label: str, write: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time, every_s: float = PLAIN_EVERY_S):
        super().__init__(clock, every_s)
        self.label, self.write = label, write

    def emit(self, stage: Stage, now: float) -> None:
        line = f"{clock_time(now)} {self.label}: {stage.describe(now)}"
        if self.write is not None:
            self.write(line)
        else:
            print(line, file=sys.stdout, flush=True)


def plural(unit: str) -> str:
    """``steps``, ``batches``."""
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")


def duration(seconds: float) -> str:
    """``42s``, ``3m10s``, ``1h02m``."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def clock_time(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def cell_progress(run_dir: Path, run_id: str, label: str, write_file: bool,
                  lines: Callable[[str], None] | None) -> Progress:
    """A cell's Progress: the progress file (main process) and, with ``lines``, plain lines
    through it (a worker's stdout, which is its log; the plain view of an inline run)."""
    sinks: list[Any] = []
    if write_file:
        sinks.append(ProgressFile(run_dir / PROGRESS_FILE, run_id, label))
    if lines is not None:
        sinks.append(PlainLines(label, lines))
    return Progress(sinks)
