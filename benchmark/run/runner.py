"""The runner: plans a matrix, runs its cells through a launcher, and executes one cell under its
lock. The pieces it wires together live beside it: planning, inputs, teachers, the cell steps."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from .. import locks
from ..api import AnticipationData
from ..config import build_config
from ..coverage import zero_filled_label
from ..feature_cache import FeatureCache
from ..locks import CellLock
from ..matrix import Cell, Matrix
from ..monitor import read_state
from ..monitor.plain import PlainView
from ..monitor.watch import Watcher, choose_view
from ..plugin_manager import Plugins
from ..status import OK, claim, should_run
from ..store import RunStore
from ..teacher_cache import TeacherCache
from .cell import CellRun
from .components import Components
from .inputs import Inputs
from .jobs import Job, Journal, Summary, default_data_dir, run_order
from .planning import Planner
from .teachers import Teachers


class Runner:
    def __init__(
        self,
        plugins: Plugins,
        runs_dir: Path,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        launcher: str = "inline",
        progress: bool = True,
        refit_teachers: bool = False,
        cell_lines: Callable[[str], None] | None = None,
    ):
        self.plugins = plugins
        self.store = RunStore(Path(runs_dir))
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.cache = TeacherCache(Path(cache_dir) if cache_dir else Path(runs_dir) / "_cache" / "teachers")
        self.launcher_name = launcher
        #: the live view on a terminal (else plain lines)
        self.progress = progress
        #: where a cell run in this process prints its progress as plain lines (None: nowhere);
        #: a worker's stdout (its log), the plain view during :meth:`run`
        self.cell_lines = cell_lines
        #: seconds a cell lock waits for a stale holder (None: the lock's default)
        self.lock_timeout_s: float | None = None
        #: what :meth:`execute` did in this process (for the report after Ctrl-C)
        self.journal = Journal()
        self.components = Components(plugins)
        self.planner = Planner(self.components, self.store, self.data_dir)
        self.inputs = Inputs(self.components, self.data_dir, FeatureCache(Path(runs_dir) / "_cache" / "features"))
        self.teachers = Teachers(self.components, plugins, self.data_dir, self.cache, self.store, refit_teachers)

    @property
    def refit_teachers(self) -> bool:
        """Fit the teacher in every cell that needs one, bypassing the cache."""
        return self.teachers.refit

    @property
    def unavailable_features(self) -> dict[str, str]:
        """Feature source -> why its files are absent (after ``plan(require_features=False)``)."""
        return self.planner.unavailable_features

    @property
    def unavailable_corpora(self) -> dict[str, str]:
        """Teacher -> why its pretraining corpus is absent (after ``plan(require_features=False)``)."""
        return self.planner.unavailable_corpora

    def plan(self, matrix: Matrix, require_features: bool = True) -> list[Job]:
        return self.planner.plan(matrix, require_features)

    def load_data(self, cell: Cell) -> AnticipationData:
        return self.inputs.data(cell)

    def fit_teachers(self, matrix: Matrix, echo: Callable[[str], None]) -> list[dict[str, Any]]:
        """Fit (or reuse) every teacher of the matrix once per dataset; return teacher records."""
        return self.teachers.fit_all(matrix, self.inputs, echo)

    # -- running -------------------------------------------------------------------------------

    def run(self, matrix: Matrix, force: bool = False, rerun_failed: bool = False,
            echo: Callable[[str], None] | None = None,
            launcher_options: dict[str, Any] | None = None,
            on_record: Callable[[dict[str, Any]], None] | None = None) -> Summary:
        """Run the cells without a record (all with ``force``; failed ones too with
        ``rerun_failed``) through the launcher, configured with ``launcher_options``.

        While they run, a watcher shows the matrix's state: the live view on a terminal (with
        ``progress``), else plain lines through ``echo`` (default: stderr). ``on_record`` is
        called with each finished cell's record (e.g. to rewrite the leaderboard)."""
        jobs = self.plan(matrix)
        launcher = self.make_launcher(launcher_options)
        launcher.runner = self
        summary = Summary(jobs)
        todo = []
        for job in jobs:
            (todo if should_run(job.status, force, rerun_failed) else summary.skipped).append(job)
        todo = run_order(todo)
        view = PlainView(echo) if echo is not None else choose_view(self.progress)
        outer = self.cell_lines
        with Watcher(lambda: read_state(matrix.name, jobs, self.store), view) as watch:
            if isinstance(view, PlainView):  # cells run here print their stages as they change
                self.cell_lines = watch.echo
            watch.echo(f"matrix '{matrix.name}': {len(jobs)} cells, {len(todo)} to run, "
                       f"{len(summary.skipped)} already recorded (runs in {self.store.root})")
            try:
                for i, record in enumerate(launcher.launch(todo, self.execute), start=1):
                    summary.executed.append(record)
                    watch.echo(f"[{i}/{len(todo)}] {result_line(record)}")
                    if on_record is not None:
                        on_record(record)
                    watch.refresh()
            finally:
                self.cell_lines = outer
        return summary

    def cell_lock(self, run_id: str) -> CellLock:
        """The lock of one cell (``runs/_locks/<run_id>.lock``); ``lock_timeout_s`` overrides
        ``BENCH_LOCK_TIMEOUT_S``."""
        return CellLock(self.store.lock_path(run_id), timeout_s=self.lock_timeout_s)

    def make_launcher(self, options: dict[str, Any] | None = None) -> Any:
        """The launcher named at construction, its Config built from ``options``."""
        cls = self.plugins.get("launcher", self.launcher_name, "--launcher")
        return cls(build_config(cls.Config, options, f"--launcher {self.launcher_name}"))

    def execute(self, job: Job) -> dict[str, Any]:
        """Run one cell in this process and write its record. Never raises for cell errors.

        The cell's lock is held from before its folder is prepared until after its record is
        written. A cell locked by a live runner is not run (status ``running_elsewhere``), nor
        one that another runner recorded since this one planned (``recorded_elsewhere``); such
        results are returned, never written. Ctrl-C propagates: no record, the lock released,
        a checkpoint kept for the next run. Ranks of a multi-process launch take no lock, nor
        does a process whose launcher holds the lock for it (``BENCH_CELL_LOCK_TOKEN``)."""
        lock = None
        if _world_size() <= 1 and not locks.inherited(self.store.lock_path(job.run_id)):
            lock = self.cell_lock(job.run_id)
        journal = self.journal
        elsewhere = claim(job, lock, self.store)
        if elsewhere is not None:
            journal.elsewhere.append(elsewhere)
            return elsewhere
        try:
            journal.current = job
            record = CellRun(self, job, lock, _process_index()).run()
            journal.finished.append(record)
            return record
        except KeyboardInterrupt:
            journal.interrupted.append(job)
            raise
        finally:
            journal.current = None
            if lock is not None:
                lock.release()


def result_line(record: dict[str, Any]) -> str:
    """One cell's outcome in a line: status, label, time, its first three metrics or its error."""
    shown = ", ".join(f"{k}={v:.2f}" for k, v in list(record.get("metrics", {}).items())[:3])
    reason = f"  {record.get('error')}" if record["status"] != OK else ""
    if record.get("zero_filled_frames"):
        reason += f"  ({zero_filled_label(record['zero_filled_frames'])})"
    return (f"{record['status']:6s} {record['cell']['label']} "
            f"({record['timings'].get('total_s', 0):.1f}s) {shown}{reason}")


def _world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1") or 1)
    except ValueError:
        return 1


def _process_index() -> int:
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)
