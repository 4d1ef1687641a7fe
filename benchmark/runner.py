"""Plans and executes the cells of a matrix: run ids, resume, the teacher cache, records."""
from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm.auto import tqdm

from . import __version__, checkpoint, locks, tracking
from .api import SELECTED_ROW_LABEL, AnticipationData, TeacherOutput
from .config import build_config
from .coverage import zero_filled_frames, zero_filled_label
from .environment import describe
from .errors import ConfigError, DataError
from .feature_cache import FeatureCache
from .locks import CellLock
from .matrix import Cell, Matrix
from .plugin_manager import Plugins
from .records import new_record
from .runid import canonical_json, identity, run_id
from .status import NOT_RUN, OK, claim, should_run
from .store import RunStore
from .teacher_cache import TeacherCache
from .threads import fixed_threads
from .training import Budget, peak_rss_mb, reset_peak_rss, train_and_evaluate

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


def data_kind(dataset_kind: str, feature_kind: str) -> str:
    """How to label results: ``synthetic`` data, ``simulated`` features, or ``real``."""
    if dataset_kind == "synthetic":
        return "synthetic"
    if feature_kind == "simulated":
        return "simulated"
    return "real"


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
    ):
        self.plugins = plugins
        self.store = RunStore(Path(runs_dir))
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.cache = TeacherCache(Path(cache_dir) if cache_dir else Path(runs_dir) / "_cache" / "teachers")
        self.feature_cache = FeatureCache(Path(runs_dir) / "_cache" / "features")
        self.launcher_name = launcher
        self.progress = progress
        #: fit the teacher in every cell that needs one, bypassing the cache (to measure what it saves)
        self.refit_teachers = refit_teachers
        #: seconds a cell lock waits for a stale holder (None: the lock's default)
        self.lock_timeout_s: float | None = None
        self._fingerprints: dict[str, str] = {}
        self.unavailable_features: dict[str, str] = {}  # feature source -> why (plan without files)
        self._data: dict[str, AnticipationData] = {}
        self._features: dict[str, dict[str, np.ndarray]] = {}

    # -- planning ------------------------------------------------------------------------------

    def component(self, cell: Cell, kind: str) -> Any:
        cls = self.plugins.get(kind, cell.components[kind])
        return cls(build_config(cls.Config, cell.configs[kind], f"{kind} {cell.components[kind]}"))

    def dataset_fingerprint(self, cell: Cell) -> str:
        key = canonical_json([cell.components["dataset"], cell.configs["dataset"], str(self.data_dir)])
        if key not in self._fingerprints:
            self._fingerprints[key] = self._fingerprint(cell, "dataset", lambda c: c.fingerprint(self.data_dir))
        return self._fingerprints[key]

    def feature_fingerprint(self, cell: Cell, required: bool = True) -> str:
        key = canonical_json(["fs", cell.components["feature_source"], cell.configs["feature_source"]])
        if key not in self._fingerprints:
            try:
                self._fingerprints[key] = self._fingerprint(cell, "feature_source", lambda c: c.fingerprint())
            except ConfigError as exc:
                if required:
                    raise
                # validation without the feature files (e.g. the paper profile on a laptop)
                self.unavailable_features[cell.feature_source] = str(exc)
                return "unavailable"
        return self._fingerprints[key]

    def _fingerprint(self, cell: Cell, kind: str, fn: Callable[[Any], str]) -> str:
        try:
            return str(fn(self.component(cell, kind)))
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"{kind} '{getattr(cell, kind)}': {type(exc).__name__}: {exc}".splitlines()[0]
            ) from None

    def versions(self, cell: Cell) -> dict[str, str]:
        out = {kind: f"{name}@{self.plugins.get(kind, name).version}" for kind, name in cell.components.items()}
        for m in cell.metrics:
            out[f"metric.{m}"] = str(self.plugins.get("metric", m).version)
        return out

    def plan(self, matrix: Matrix, require_features: bool = True) -> list[Job]:
        """Jobs of every cell with its run id and status. ``require_features=False`` lets a
        feature source whose files are absent through (listed in ``unavailable_features``)."""
        jobs = []
        for cell in matrix.cells:
            ident = identity(cell, self.versions(cell), self.dataset_fingerprint(cell), __version__.split(".")[0],
                             self.feature_fingerprint(cell, require_features))
            rid = run_id(ident)
            jobs.append(Job(cell, rid, ident, self.store.status(rid)))
        return jobs

    # -- running -------------------------------------------------------------------------------

    def run(self, matrix: Matrix, force: bool = False, rerun_failed: bool = False,
            echo: Callable[[str], None] | None = None,
            launcher_options: dict[str, Any] | None = None) -> Summary:
        """Run the cells without a record (all with ``force``; failed ones too with
        ``rerun_failed``) through the launcher, configured with ``launcher_options``."""
        echo = echo or (lambda line: print(line, file=sys.stderr))
        jobs = self.plan(matrix)
        launcher = self.make_launcher(launcher_options)
        launcher.runner = self
        summary = Summary(jobs)
        todo = []
        for job in jobs:
            if should_run(job.status, force, rerun_failed):
                todo.append(job)
            else:
                summary.skipped.append(job)
        todo = teachers_first(todo)
        echo(
            f"matrix '{matrix.name}': {len(jobs)} cells, {len(todo)} to run, "
            f"{len(summary.skipped)} already recorded (runs in {self.store.root})"
        )
        bar = tqdm(total=len(todo), desc="matrix", unit="cell", disable=None if (self.progress and todo) else True)
        try:
            for i, record in enumerate(launcher.launch(todo, self.execute), start=1):
                summary.executed.append(record)
                main = record.get("metrics", {})
                shown = ", ".join(f"{k}={v:.2f}" for k, v in list(main.items())[:3])
                reason = f"  {record.get('error')}" if record["status"] != "ok" else ""
                if record.get("zero_filled_frames"):
                    reason += f"  ({zero_filled_label(record['zero_filled_frames'])})"
                bar.update(1)
                echo(
                    f"[{i}/{len(todo)}] {record['status']:6s} {record['cell']['label']} "
                    f"({record['timings'].get('total_s', 0):.1f}s) {shown}{reason}"
                )
        finally:
            bar.close()
        return summary

    @property
    def journal(self) -> Journal:
        """What :meth:`execute` did in this process (for the report after Ctrl-C)."""
        if not hasattr(self, "_journal"):
            self._journal = Journal()
        return self._journal

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
            record = self._execute_locked(job, lock)
            journal.finished.append(record)
            return record
        except KeyboardInterrupt:
            journal.interrupted.append(job)
            raise
        finally:
            journal.current = None
            if lock is not None:
                lock.release()

    def _execute_locked(self, job: Job, lock: CellLock | None) -> dict[str, Any]:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        cell = job.cell
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        reset_peak_rss()
        budget = Budget(float(cell.train.get("time_budget_s", 0) or 0),
                        float(cell.train.get("memory_budget_mb", 0) or 0), started=t0)
        run_dir = self.store.prepare(job.run_id, job.identity)
        accelerator = None
        trackers = False
        log = _cell_logger(run_dir, _process_index())
        if lock is not None and lock.broken:
            log.warning("took over a stale lock: %s", lock.broken)
        timings: dict[str, Any] = {}
        record: dict[str, Any] = {**new_record(job), "timings": timings}
        try:
            accelerator = Accelerator(cpu=bool(cell.train["cpu"]), mixed_precision=cell.train["mixed_precision"],
                                      **tracking.accelerator_kwargs(cell.train, run_dir))
            trackers = tracking.start_trackers(accelerator, cell.train, cell.matrix, cell.label,
                                               {"cell": cell.axes, "run_id": job.run_id, "train": cell.train,
                                                "configs": cell.configs})
            self.plugins.hook().bench_before_cell(cell=cell, run_dir=run_dir)
            log.info("cell %s run_id %s", cell.label, job.run_id)
            tic = time.perf_counter()
            data = self.load_data(cell)
            timings["data_s"] = round(time.perf_counter() - tic, 3)
            fs = self.component(cell, "feature_source")
            record["data_kind"] = data_kind(data.data_kind, fs.data_kind)
            record["features"] = fs.data_kind  # "simulated" or "real"
            tic = time.perf_counter()
            feats, record["feature_info"] = self.load_features(cell, fs, data)
            record["zero_filled_frames"] = zero_filled_frames(record["feature_info"])
            if record["zero_filled_frames"]:
                log.warning("%d needed frames are missing from the features and zero-filled",
                            record["zero_filled_frames"])
            timings["features_s"] = round(time.perf_counter() - tic, 3)

            teacher_outputs, teacher_info = self.teacher_outputs(cell, data, accelerator, log)
            record.update(teacher_info.pop("record", {}))
            timings.update(teacher_info)
            if teacher_outputs is not None:
                record["teacher_metrics"] = self.compute_metrics(cell, teacher_outputs["val"].logits, data)
                self.write_teacher_record(cell, data, record, timings)
            member_train = None
            if cell.members and teacher_outputs is not None:
                tic = time.perf_counter()
                member_train, record["member_teachers"] = self.member_outputs(cell, data, accelerator, log,
                                                                              teacher_outputs["train"])
                timings["member_teachers_s"] = round(time.perf_counter() - tic, 3)

            set_seed(cell.seed)
            tic = time.perf_counter()
            y_train = np.array([s.target.action for s in data.splits["train"]], dtype=np.int64)
            student = self.component(cell, "student")
            student.anticipation_index = data.anticipation_index
            student.input_info = dict(record["feature_info"].get("train", {}))
            # column ranges per modality, for multi-branch students (e.g. {"rgb": [0, 1024], ...})
            student.feature_layout = student.input_info.get("layout")
            x_train, x_val = feats["train"], feats["val"]
            steps_used = x_train.shape[1]
            if not student.uses_future_steps:  # nothing after start - tau_a reaches the student
                steps_used = data.anticipation_index + 1
                x_train = x_train[:, :steps_used]
                x_val = x_val[:, :steps_used]
            step_train = step_labels(data, "train")[:, :steps_used] if student.needs_step_labels else None
            result = train_and_evaluate(
                student, self.component(cell, "loss"), cell.train,
                x_train, y_train, x_val,
                teacher_outputs["train"] if teacher_outputs is not None else None,
                data.classes.num_actions, cell.seed, accelerator, log, self.progress,
                step_train=step_train, member_train=member_train, budget=budget,
                checkpoint_dir=run_dir / checkpoint.FOLDER,
                loss_log=tracking.LossLog(run_dir, accelerator, trackers),
                y_val=np.array([s.target.action for s in data.splits["val"]], dtype=np.int64),
            )
            timings["train_eval_s"] = round(time.perf_counter() - tic, 3)
            if result.resumed_from_epoch:
                record["resumed_from_epoch"] = result.resumed_from_epoch
            record["metrics"] = self.compute_metrics(cell, result.val_scores, data)
            if result.selection:
                # the row shows the epoch the student's own model selection kept (RULSTM: best
                # validation top-5 at the scored step); the last epoch's metrics are kept beside
                record["model_selection"] = result.selection
                record["row_label"] = SELECTED_ROW_LABEL
                if result.last_val_scores is not None:
                    record["metrics_last_epoch"] = self.compute_metrics(cell, result.last_val_scores, data)
            record["higher_is_better"] = {
                m: bool(self.plugins.get("metric", m).higher_is_better) for m in cell.metrics
            }
            record["epoch_losses"] = result.epoch_losses
            record["student_parameters"] = result.num_parameters
            record["optimization"] = result.optimization
            record["num_samples"] = {k: len(v) for k, v in data.splits.items()}
            record["dropped_segments"] = data.dropped
            record["status"] = "ok"
        except KeyboardInterrupt:
            log.warning("interrupted (Ctrl-C) after %.1f s: no record written, the cell stays pending",
                        time.perf_counter() - t0)
            raise
        except Exception as exc:  # a failing cell is recorded; the matrix goes on
            record["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            log.error("cell failed:\n%s", traceback.format_exc())
        finally:
            try:
                tracking.end_trackers(accelerator, trackers)
            except Exception as exc:  # a tracker failing to close must not lose the record
                log.warning("closing the trackers failed: %s: %s", type(exc).__name__, exc)
            timings["peak_rss_mb"] = round(peak_rss_mb(), 1)
            timings["total_s"] = round(time.perf_counter() - t0, 3)
            record["started_at"] = started.isoformat()
            record["ended_at"] = datetime.now(timezone.utc).isoformat()
            record["env"] = describe(accelerator)
            record["feature_fingerprint"] = job.identity.get("feature_fingerprint", "")
            _close_logger(log)
        try:
            self.plugins.hook().bench_update_record(cell=cell, record=record)
        except Exception as exc:
            record["status"] = "failed"
            record["error"] = f"bench_update_record hook raised {type(exc).__name__}: {exc}".splitlines()[0][:500]
        if accelerator is None or accelerator.is_main_process:
            self.store.write_record(job.run_id, record)
            checkpoint.clear(run_dir / checkpoint.FOLDER)  # the record supersedes it
            try:
                self.plugins.hook().bench_after_cell(cell=cell, record=record)
            except Exception as exc:  # the record is written; a tracker failing must not stop the matrix
                print(f"bench: warning: bench_after_cell hook raised {type(exc).__name__}: {exc}", file=sys.stderr)
        return record

    # -- pieces --------------------------------------------------------------------------------

    def load_data(self, cell: Cell) -> AnticipationData:
        key = canonical_json([cell.components["dataset"], cell.configs["dataset"]])
        if key not in self._data:
            self._data[key] = self.component(cell, "dataset").load(self.data_dir)
        return self._data[key]

    def load_features(self, cell: Cell, fs: Any, data: AnticipationData) -> tuple[dict[str, np.ndarray], dict]:
        """Features of both splits, loaded once per process, and what the source reported."""
        key = canonical_json([cell.components["feature_source"], cell.configs["feature_source"], data.fingerprint])
        if key not in self._features:
            def compute() -> tuple[dict[str, np.ndarray], dict]:
                arrays, info = {}, {}
                for split in ("train", "val"):
                    fs.last_info = {}
                    arrays[split] = fs.load(data, split)
                    info[split] = dict(fs.last_info or {})
                return arrays, info

            if fs.disk_cache:
                content = {"feature_source": cell.components["feature_source"], "version": fs.version,
                           "config": cell.configs["feature_source"], "dataset_fingerprint": data.fingerprint}
                arrays, info, _ = self.feature_cache.get_or_compute(content, ("train", "val"), compute)
            else:
                arrays, info = compute()
            self._features[key] = (arrays, info)
        return self._features[key]

    def teacher(self, cell: Cell) -> Any:
        """A fresh teacher of the cell, given what :class:`~benchmark.api.Teacher` declares."""
        teacher = self.component(cell, "teacher")
        teacher.plugins, teacher.data_dir = self.plugins, self.data_dir
        return teacher

    def teacher_content(self, cell: Cell, dataset_fingerprint: str) -> dict[str, Any]:
        """What the teacher cache key of a cell's teacher hashes."""
        return {
            "teacher": cell.components["teacher"],
            "version": self.plugins.get("teacher", cell.components["teacher"]).version,
            "config": cell.configs["teacher"],
            "seed": cell.train["teacher_seed"],
            "dataset_fingerprint": dataset_fingerprint,
            "cross_fit": cell.train.get("teacher_cross_fit", 0),
            "threads": cell.train["teacher_threads"],
        }

    def teacher_outputs(self, cell: Cell, data: AnticipationData, accelerator: Any,
                        log: logging.Logger) -> tuple[dict[str, TeacherOutput] | None, dict[str, Any]]:
        teacher = self.teacher(cell)
        if teacher.is_null:
            return None, {}
        content = self.teacher_content(cell, data.fingerprint)

        def compute() -> dict[str, TeacherOutput]:
            from accelerate.utils import set_seed

            log.info("fitting teacher %s on %d CPU threads", cell.teacher, cell.train["teacher_threads"])
            with fixed_threads(cell.train["teacher_threads"], accelerator.device.type):
                set_seed(cell.train["teacher_seed"])
                teacher.fit(data, accelerator, cell.train["teacher_seed"])
                outputs = {split: teacher.predict(data, split, accelerator) for split in ("train", "val")}
                folds = int(cell.train.get("teacher_cross_fit", 0))
                if folds >= 2:
                    outputs["train"] = self.out_of_fold(cell, data, accelerator, folds, log)
            return outputs

        tic = time.perf_counter()
        if self.refit_teachers:
            outputs, cached, key = compute(), False, self.cache.key(content)
        else:
            uids = split_uids(data)
            outputs, cached, key = self.cache.get_or_compute(
                content, compute, uids=uids,
                on_wait=lambda holder: log.info("teacher %s is being fitted by %s: waiting", cell.teacher, holder))
            problem = self.cache.coverage_problem(key, uids)
            if problem:
                raise DataError(f"{problem}; delete that folder to refit the teacher")
        for split, out in outputs.items():
            n = len(data.splits[split])
            if out.logits.shape != (n, data.classes.num_actions):
                raise ValueError(
                    f"teacher '{cell.teacher}' returned logits of shape {out.logits.shape} for "
                    f"split {split}, expected {(n, data.classes.num_actions)}"
                )
        log.info("teacher outputs %s (cache %s)", "reused" if cached else "computed", key)
        describe = getattr(teacher, "describe", None)
        return outputs, {
            "teacher_s": round(time.perf_counter() - tic, 3),
            "record": {"teacher_cache": {"key": key, "reused": cached},
                       "teacher_info": describe() if callable(describe) else {}},
        }

    def member_outputs(self, cell: Cell, data: AnticipationData, accelerator: Any, log: logging.Logger,
                       own: TeacherOutput) -> tuple[np.ndarray, dict[str, Any]]:
        """Training-split logits ``[N, M, C]`` of the cell's teacher and of every member teacher
        of its loss (each fitted once and cached like any teacher)."""
        import dataclasses

        stacked, info = [own.logits], {}
        for alias, member in cell.members.items():
            sub = dataclasses.replace(
                cell, teacher=alias, members={},
                components={**cell.components, "teacher": member["name"]},
                configs={**cell.configs, "teacher": member["config"]},
            )
            outputs, minfo = self.teacher_outputs(sub, data, accelerator, log)
            stacked.append(outputs["train"].logits)
            info[alias] = {"name": member["name"], **minfo["record"]["teacher_cache"],
                           "val_metrics": self.compute_metrics(cell, outputs["val"].logits, data)}
        return np.stack(stacked, axis=1).astype(np.float32), info

    def out_of_fold(self, cell: Cell, data: AnticipationData, accelerator: Any, folds: int,
                    log: logging.Logger) -> TeacherOutput:
        """Training-split soft labels from ``folds`` teachers, each fitted without one fold of
        training videos and predicting that fold (k-fold cross-fitting)."""
        import dataclasses

        from accelerate.utils import set_seed

        train = data.splits["train"]
        videos = sorted({s.video for s in train})
        order = np.random.default_rng(cell.train["teacher_seed"]).permutation(len(videos))
        fold_of = {videos[i]: rank % folds for rank, i in enumerate(order)}
        logits: np.ndarray | None = None
        features: np.ndarray | None = None
        for f in range(folds):
            held = [i for i, s in enumerate(train) if fold_of[s.video] == f]
            sub = dataclasses.replace(data, splits={"train": [s for s in train if fold_of[s.video] != f],
                                                    "val": [train[i] for i in held]}, split_timelines={})
            log.info("cross-fitting teacher %s: fold %d/%d (%d held-out samples)", cell.teacher, f + 1, folds, len(held))
            teacher = self.teacher(cell)
            set_seed(cell.train["teacher_seed"] + f + 1)
            teacher.fit(sub, accelerator, cell.train["teacher_seed"] + f + 1)
            out = teacher.predict(sub, "val", accelerator)
            if logits is None:
                logits = np.zeros((len(train), out.logits.shape[1]), dtype=np.float32)
                if out.features is not None:
                    features = np.zeros((len(train), out.features.shape[1]), dtype=np.float32)
            logits[held] = out.logits
            if features is not None and out.features is not None:
                features[held] = out.features
        assert logits is not None
        return TeacherOutput(logits, features)

    def teacher_record_path(self, key: str) -> Path:
        return self.store.root / "_teachers" / f"{key}.json"

    def write_teacher_record(self, cell: Cell, data: AnticipationData, record: dict[str, Any],
                             timings: dict[str, Any]) -> None:
        """One record per fitted teacher (next to the cell records), for teacher-only leaderboards;
        written when the teacher is fitted, so its fit time is the real one."""
        from . import atomic

        key = record["teacher_cache"]["key"]
        path = self.teacher_record_path(key)
        if record["teacher_cache"]["reused"] and path.exists():
            return
        atomic.write_json(path, {
            "status": "ok", "teacher_cache_key": key, "data_kind": "real" if data.data_kind == "real" else data.data_kind,
            "cell": {"dataset": cell.dataset, "teacher": cell.teacher, "student": "text-only", "loss": "none",
                     "seed": cell.train["teacher_seed"], "baseline": False,
                     "label": f"{cell.dataset}/{cell.teacher}"},
            "teacher_info": record.get("teacher_info", {}), "config": cell.configs["teacher"],
            "metrics": record["teacher_metrics"],
            "higher_is_better": {m: bool(self.plugins.get("metric", m).higher_is_better) for m in cell.metrics},
            "fit_and_predict_s": timings.get("teacher_s") if not record["teacher_cache"]["reused"] else None,
            "versions": record["versions"], "dataset_fingerprint": data.fingerprint,
        })

    def fit_teachers(self, matrix: Matrix, echo: Callable[[str], None]) -> list[dict[str, Any]]:
        """Fit (or reuse) every teacher of the matrix once per dataset; return teacher records."""
        from accelerate import Accelerator

        out, seen = [], set()
        for cell in matrix.cells:
            if self.plugins.get("teacher", cell.components["teacher"]).is_null:
                continue
            key = (cell.dataset, cell.teacher)
            if key in seen:
                continue
            seen.add(key)
            data = self.load_data(cell)
            accelerator = Accelerator(cpu=bool(cell.train["cpu"]), mixed_precision=cell.train["mixed_precision"])
            log = logging.getLogger("bench.teachers")
            tic = time.perf_counter()
            outputs, info = self.teacher_outputs(cell, data, accelerator, log)
            timings = {"teacher_s": round(time.perf_counter() - tic, 3)}
            record = {"teacher_cache": info["record"]["teacher_cache"], "teacher_info": info["record"]["teacher_info"],
                      "teacher_metrics": self.compute_metrics(cell, outputs["val"].logits, data),
                      "versions": self.versions(cell)}
            self.write_teacher_record(cell, data, record, timings)
            saved = json.loads(self.teacher_record_path(record["teacher_cache"]["key"]).read_text(encoding="utf-8"))
            shown = ", ".join(f"{k}={v:.2f}" for k, v in saved["metrics"].items() if v is not None)
            how = "reused" if record["teacher_cache"]["reused"] else f"fitted in {timings['teacher_s']:.1f}s"
            echo(f"teacher {cell.dataset}/{cell.teacher}: {shown} ({how})")
            out.append(saved)
        return out

    def compute_metrics(self, cell: Cell, scores: np.ndarray, data: AnticipationData) -> dict[str, float]:
        targets = np.array([s.target.action for s in data.splits["val"]], dtype=np.int64)
        out = {}
        for name in cell.metrics:
            metric = self.plugins.get("metric", name)()
            value = float(metric.compute(scores, targets, data))
            out[name] = round(value, 4) if np.isfinite(value) else None  # undefined here (e.g. no many-shot list)
        return out


def split_uids(data: AnticipationData, splits: tuple[str, ...] = ("train", "val")) -> dict[str, list[str]]:
    """Per split, the uids of its samples in order: the rows of every per-sample array."""
    return {split: [s.uid for s in data.splits[split]] for split in splits}


def teachers_first(jobs: list[Job]) -> list[Job]:
    """The first cell of each (dataset, teacher) first, teacher by teacher, then the rest in
    matrix order.

    A cell fits its teacher when the cache has none yet, and a cell that needs a teacher another
    cell is fitting waits for it. With several cells at a time (``--launcher queue``) this order
    has the slots fit different teachers side by side instead of queueing behind one fit."""
    first, rest, seen = [], [], set()
    for job in jobs:
        key = (job.cell.dataset, job.cell.teacher)
        if job.cell.teacher != "none" and key not in seen:
            seen.add(key)
            first.append(job)
        else:
            rest.append(job)
    # teacher-major (the matrix's teacher order, each on every dataset): the fits of the first
    # teacher of the axis, usually the largest model, start side by side
    teachers = list(dict.fromkeys(j.cell.teacher for j in first))
    first.sort(key=lambda j: teachers.index(j.cell.teacher))
    return first + rest


def step_labels(data: AnticipationData, split: str) -> np.ndarray:
    """``[N, T]`` action in progress at each observed step of each sample (the latest-starting
    segment with start <= t < end), -100 where no segment covers the step. Only segments that
    started before the step's time can match, so the anticipated segment never does, and only
    segments of the same split (:meth:`AnticipationData.label_timeline`), so no label of another
    split reaches a training tensor."""
    from bisect import bisect_right

    samples = data.splits[split]
    timelines = data.label_timeline(split)
    out = np.full((len(samples), data.obs_steps), -100, dtype=np.int64)
    starts = {v: [seg.start for seg in segs] for v, segs in timelines.items()}
    for i, sample in enumerate(samples):
        timeline = timelines.get(sample.video, [])
        begin = starts.get(sample.video, [])
        for j, t in enumerate(data.obs_times(sample)):
            hi = bisect_right(begin, float(t))
            for seg in reversed(timeline[max(0, hi - 32):hi]):
                if seg.start <= t < seg.end:
                    out[i, j] = seg.action
                    break
    return out


@dataclass
class Journal:
    """The cells :meth:`Runner.execute` finished or was interrupted in, in this process."""

    finished: list[dict[str, Any]] = field(default_factory=list)
    interrupted: list[Job] = field(default_factory=list)
    elsewhere: list[dict[str, Any]] = field(default_factory=list)  # left to another runner
    current: Job | None = None


def _world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1") or 1)
    except ValueError:
        return 1


def _process_index() -> int:
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)


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
