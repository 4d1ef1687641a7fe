"""One cell, from its planned job to its written record, as a short sequence of named steps:

    start (folder, log) -> open (Accelerator, trackers, hooks)
    -> read inputs (dataset, features)
    -> teacher outputs (cached or fitted; member teachers of an ensemble loss)
    -> train and evaluate the student
    -> finish the record (write it, tell the hooks)

A step that raises fails the cell: the record says ``failed`` with the error's first line and the
matrix goes on. Ctrl-C writes no record (the cell stays pending, its checkpoint kept)."""
from __future__ import annotations

import logging
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import checkpoint, predictions, tracking
from ..api import SELECTED_ROW_LABEL, AnticipationData, TeacherOutput
from ..coverage import zero_filled_frames
from ..environment import describe
from ..locks import CellLock
from ..progress import FEATURES, PROGRESS_FILE, READING, SILENT, TEACHER, Progress, cell_progress
from ..records import error_line, new_record
from ..status import FAILED, OK
from .accelerators import make_accelerator
from .budget import Budget, peak_rss_mb, reset_peak_rss
from .inputs import predict_features, train_data
from .jobs import Job, data_kind
from .training import TrainSettings, train_and_evaluate

if TYPE_CHECKING:
    from .runner import Runner


class CellRun:
    def __init__(self, runner: "Runner", job: Job, lock: CellLock | None, rank: int = 0):
        self.runner, self.job, self.lock, self.rank = runner, job, lock, rank
        self.cell = job.cell
        self.timings: dict[str, Any] = {}
        self.record: dict[str, Any] = {**new_record(job), "timings": self.timings}
        self.accelerator: Any = None
        self.trackers = False
        self.data: AnticipationData | None = None
        self.features: dict[str, np.ndarray] = {}
        self.teacher: dict[str, TeacherOutput] | None = None
        self.members: np.ndarray | None = None
        self.progress: Progress = SILENT

    def run(self) -> dict[str, Any]:
        """Run the cell and write its record (from the main process); never raises for a cell
        error."""
        self.start()
        try:
            self.open()
            self.read_inputs()
            self.teacher_outputs()
            self.train_and_evaluate()
            self.record["status"] = OK
        except KeyboardInterrupt:
            self.log.warning("interrupted (Ctrl-C) after %.1f s: no record written, the cell stays pending",
                             time.perf_counter() - self.t0)
            raise
        except Exception as exc:  # a failing cell is recorded; the matrix goes on
            self.record["error"] = error_line(f"{type(exc).__name__}: {exc}")
            self.log.error("cell failed:\n%s", traceback.format_exc())
        finally:
            self.close()
        return self.finish()

    # -- the steps ----------------------------------------------------------------------------

    def start(self) -> None:
        """The clock, the budget, the run folder and the cell's log."""
        train = self.cell.train
        self.started = datetime.now(timezone.utc)
        self.t0 = time.perf_counter()
        reset_peak_rss()
        self.budget = Budget(float(train.get("time_budget_s", 0) or 0), float(train.get("memory_budget_mb", 0) or 0),
                             started=self.t0)
        self.run_dir = self.runner.store.prepare(self.job.run_id, self.job.identity)
        self.log = _cell_logger(self.run_dir, self.rank)
        self.progress = cell_progress(self.run_dir, self.job.run_id, self.cell.label, write_file=self.rank == 0,
                                      lines=self.runner.cell_lines if self.rank == 0 else None)
        if self.lock is not None and self.lock.broken:
            self.log.warning("took over a stale lock: %s", self.lock.broken)

    def open(self) -> None:
        """The Accelerator, the trackers and the ``bench_before_cell`` hooks (a failure here is
        the cell's)."""
        cell = self.cell
        self.accelerator = make_accelerator(cell.train, **tracking.accelerator_kwargs(cell.train, self.run_dir))
        self.trackers = tracking.start_trackers(self.accelerator, cell.train, cell.matrix, cell.label,
                                                {"cell": cell.axes, "run_id": self.job.run_id, "train": cell.train,
                                                 "configs": cell.configs})
        self.runner.plugins.hook().bench_before_cell(cell=cell, run_dir=self.run_dir)
        self.log.info("cell %s run_id %s", cell.label, self.job.run_id)

    def read_inputs(self) -> None:
        """The dataset and the features of both splits (what the source reported goes in the
        record, zero-filled frames counted)."""
        cell, record, inputs = self.cell, self.record, self.runner.inputs
        self.progress.start(READING)
        with self._timed("data_s"):
            self.data = inputs.data(cell)
        fs = self.runner.components.build(cell, "feature_source")
        record["data_kind"] = data_kind(self.data.data_kind, fs.data_kind)
        record["features"] = fs.data_kind  # "simulated" or "real"
        self.progress.start(FEATURES)
        with self._timed("features_s"):
            self.features, record["feature_info"] = inputs.features(cell, fs, self.data, self.progress)
            record["zero_filled_frames"] = zero_filled_frames(record["feature_info"])
            kept = list(cell.train.get("save_predictions") or [])
            self.features = {**self.features, **predict_features(fs, self.data, kept, self.progress)}
            if record["zero_filled_frames"]:
                self.log.warning("%d needed frames are missing from the features and zero-filled",
                                 record["zero_filled_frames"])

    def teacher_outputs(self) -> None:
        """The teacher's soft labels (none for the no-teacher baseline), its validation metrics
        and teacher record, and the member teachers' training logits."""
        cell, data, teachers, record = self.cell, self.data, self.runner.teachers, self.record
        assert data is not None
        if not teachers.is_null(cell):
            self.progress.start(TEACHER, detail="from the cache, or fitted now")
        fitted = teachers.outputs(cell, data, self.accelerator, self.log, self.progress)
        if fitted is None:
            return
        self.teacher, info = fitted
        record.update(info["record"])
        self.timings["teacher_s"] = info["teacher_s"]
        record["teacher_metrics"] = self.runner.components.metrics(cell, self.teacher["val"].logits, data)
        teachers.write_record(cell, data, record, info["teacher_s"])
        if cell.members:
            with self._timed("member_teachers_s"):
                self.members, record["member_teachers"] = teachers.members(
                    cell, data, self.accelerator, self.log, self.teacher["train"], self.progress)

    def train_and_evaluate(self) -> None:
        """Train the student on the features (and the teacher's soft labels), score validation."""
        from accelerate.utils import set_seed

        cell, data, record, components = self.cell, self.data, self.record, self.runner.components
        assert data is not None
        set_seed(cell.seed)
        with self._timed("train_eval_s"):
            student = components.build(cell, "student")
            student.anticipation_index = data.anticipation_index
            student.input_info = dict(record["feature_info"].get("train", {}))
            # column ranges per modality, for multi-branch students (e.g. {"rgb": [0, 1024], ...})
            student.feature_layout = student.input_info.get("layout")
            arrays = train_data(student, data, self.features)
            arrays.teacher = self.teacher["train"] if self.teacher is not None else None
            arrays.members = self.members
            settings = TrainSettings(cell.train, cell.seed, self.accelerator, self.log, self.progress,
                                     self.budget, self.run_dir / checkpoint.FOLDER,
                                     tracking.LossLog(self.run_dir, self.accelerator, self.trackers))
            result = train_and_evaluate(student, components.build(cell, "loss"), arrays, settings)
        if result.resumed_from_epoch:
            record["resumed_from_epoch"] = result.resumed_from_epoch
        record["metrics"] = components.metrics(cell, result.val_scores, data)
        if result.selection:
            # the row shows the epoch the student's own model selection kept (RULSTM: best
            # validation top-5 at the scored step); the last epoch's metrics are kept beside
            record["model_selection"] = result.selection
            record["row_label"] = SELECTED_ROW_LABEL
            if result.last_val_scores is not None:
                record["metrics_last_epoch"] = components.metrics(cell, result.last_val_scores, data)
        record["higher_is_better"] = components.higher_is_better(cell)
        record["epoch_losses"] = result.epoch_losses
        record["student_parameters"] = result.num_parameters
        record["optimization"] = result.optimization
        record["num_samples"] = {k: len(v) for k, v in data.splits.items()}
        record["dropped_segments"] = data.dropped
        if self.rank == 0 and cell.train.get("save_predictions"):
            record["predictions"] = self.write_predictions(result)

    def write_predictions(self, result: Any) -> dict[str, str]:
        """The action scores of every split of ``train.save_predictions``, for ``bench submit``."""
        data, out = self.data, {}
        assert data is not None
        for split in self.cell.train["save_predictions"]:
            scores = result.val_scores if split == "val" else result.predictions[split]
            out[split] = predictions.write(self.run_dir, predictions.Predictions(
                split, data.name, data.fingerprint, data.is_labelled(split), self.record["data_kind"],
                [s.uid for s in data.samples(split)], scores))
        return out

    def close(self) -> None:
        """End the trackers and the log; the timings, times and environment of the record."""
        try:
            tracking.end_trackers(self.accelerator, self.trackers)
        except Exception as exc:  # a tracker failing to close must not lose the record
            self.log.warning("closing the trackers failed: %s: %s", type(exc).__name__, exc)
        self.timings["peak_rss_mb"] = round(peak_rss_mb(), 1)
        self.timings["total_s"] = round(time.perf_counter() - self.t0, 3)
        self.record["started_at"] = self.started.isoformat()
        self.record["ended_at"] = datetime.now(timezone.utc).isoformat()
        self.record["env"] = describe(self.accelerator)
        self.record["feature_fingerprint"] = self.job.identity.get("feature_fingerprint", "")
        _close_logger(self.log)

    def finish(self) -> dict[str, Any]:
        """The ``bench_update_record`` hooks, then (main process) the record written, the
        checkpoint it supersedes removed, the ``bench_after_cell`` hooks told."""
        plugins, record = self.runner.plugins, self.record
        try:
            plugins.hook().bench_update_record(cell=self.cell, record=record)
        except Exception as exc:
            record["status"] = FAILED
            record["error"] = error_line(f"bench_update_record hook raised {type(exc).__name__}: {exc}")
        if self.accelerator is None or self.accelerator.is_main_process:
            self.runner.store.write_record(self.job.run_id, record)
            checkpoint.clear(self.run_dir / checkpoint.FOLDER)
            (self.run_dir / PROGRESS_FILE).unlink(missing_ok=True)  # the record says it all now
            try:
                plugins.hook().bench_after_cell(cell=self.cell, record=record)
            except Exception as exc:  # the record is written; a tracker failing must not stop the matrix
                print(f"bench: warning: bench_after_cell hook raised {type(exc).__name__}: {exc}", file=sys.stderr)
        return record

    # -- helpers ------------------------------------------------------------------------------

    def _timed(self, key: str) -> "_Timer":
        return _Timer(self.timings, key)


class _Timer:
    """``with`` block whose wall time (s, 3 decimals) lands in ``timings[key]`` when it ends
    without an error."""

    def __init__(self, timings: dict[str, Any], key: str):
        self.timings, self.key = timings, key

    def __enter__(self) -> None:
        self.tic = time.perf_counter()

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.timings[self.key] = round(time.perf_counter() - self.tic, 3)


def _cell_logger(run_dir: Path, rank: int) -> logging.Logger:
    log = logging.getLogger(f"bench.cell.{run_dir.name}.{rank}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(run_dir / f"log.rank{rank}.txt", mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    return log


def _close_logger(log: logging.Logger) -> None:
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)
