"""A cell's teacher: fitted once per (teacher, config, seed, data) and cached, cross-fitted when
the cell asks for out-of-fold soft labels, with the member teachers of an ensemble loss, and one
teacher record per fit for the teacher-only leaderboards."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import atomic, corpora
from ..api import AnticipationData, FitContext, Teacher, TeacherOutput
from ..errors import DataError
from ..matrix import Cell, Matrix
from ..plugin_api import fit_teacher
from ..plugin_manager import Plugins
from ..progress import SILENT, Progress
from ..store import RunStore
from ..teacher_cache import TeacherCache
from ..threads import fixed_threads
from .accelerators import make_accelerator
from .components import Components
from .inputs import Inputs, split_uids

#: what one teacher step gives the cell: the outputs of both splits and what goes in its record
Fitted = tuple[dict[str, TeacherOutput], dict[str, Any]]


def empty_history_targets(outputs: dict[str, TeacherOutput], data: AnticipationData,
                          mode: str) -> tuple[dict[str, TeacherOutput], dict[str, Any]]:
    """Apply ``train.teacher_empty_history`` to the samples without a past action: with
    "uniform" their logits become 0 (a uniform softmax at any temperature); features are kept.
    Returns the outputs and ``{mode, train, val}`` with the number of such samples per split."""
    counts: dict[str, Any] = {"mode": mode}
    replaced = dict(outputs)
    for split, out in outputs.items():
        empty = np.array([not s.history for s in data.splits[split]], dtype=bool)
        counts[split] = int(empty.sum())
        if mode == "uniform" and empty.any():
            logits = np.array(out.logits, dtype=np.float32, copy=True)
            logits[empty] = 0.0
            replaced[split] = dataclasses.replace(out, logits=logits)
    return replaced, counts


def fit_data(data: AnticipationData, empty_history: str) -> AnticipationData:
    """What a teacher is fitted on: with ``teacher_empty_history: uniform`` the training samples
    without a past action are left out, as in the authors' teacher datasets, which hold one
    example per history and none for an empty one."""
    if empty_history != "uniform":
        return data
    return dataclasses.replace(data, splits={**data.splits, "train": [s for s in data.splits["train"] if s.history]})


class Teachers:
    def __init__(self, components: Components, plugins: Plugins, data_dir: Path, cache: TeacherCache,
                 store: RunStore, refit: bool = False):
        self.components = components
        self.plugins = plugins
        self.data_dir = data_dir
        self.cache = cache
        self.store = store
        #: fit in every cell, bypassing the cache (to measure what it saves)
        self.refit = refit

    def make(self, cell: Cell) -> Teacher:
        """A fresh teacher of the cell."""
        return self.components.build(cell, "teacher")

    def fit(self, teacher: Teacher, data: AnticipationData, accelerator: Any, seed: int,
            progress: Progress = SILENT, log: logging.Logger | None = None) -> None:
        context = FitContext(self.plugins, self.data_dir, progress, log or logging.getLogger("bench.teacher"))
        fit_teacher(teacher, data, accelerator, seed, context)

    def is_null(self, cell: Cell) -> bool:
        return bool(self.plugins.get("teacher", cell.components["teacher"]).is_null)

    def content(self, cell: Cell, dataset_fingerprint: str) -> dict[str, Any]:
        """What the teacher cache key of a cell's teacher hashes."""
        return {
            "teacher": cell.components["teacher"],
            "version": self.plugins.get("teacher", cell.components["teacher"]).version,
            "config": cell.configs["teacher"],
            "seed": cell.train["teacher_seed"],
            "dataset_fingerprint": dataset_fingerprint,
            "cross_fit": cell.train["teacher_cross_fit"],
            "threads": cell.train["teacher_threads"],
            "empty_history": cell.train["teacher_empty_history"],
            "corpus": self.corpus_fingerprint(cell),
        }

    def corpus_fingerprint(self, cell: Cell) -> str:
        corpus = self.components.corpus(cell)
        return corpus.fingerprint(self.data_dir) if corpus is not None else ""

    def outputs(self, cell: Cell, data: AnticipationData, accelerator: Any, log: logging.Logger,
                progress: Progress = SILENT) -> Fitted | None:
        """The teacher's outputs of both splits, from the cache or fitted now (None for a null
        teacher), and ``{"teacher_s": .., "record": {teacher_cache, teacher_info}}``; a fit
        reports to ``progress``."""
        teacher = self.make(cell)
        if teacher.is_null:
            return None
        tic = time.perf_counter()
        describe = functools.partial(self.provenance, teacher, cell, data)  # called after the fit
        outputs, cached, key = self._cached(cell, data, lambda: self._fit(teacher, cell, data, accelerator, log, progress),
                                            describe, log)
        for split, out in outputs.items():
            expected = (len(data.splits[split]), data.classes.num_actions)
            if out.logits.shape != expected:
                raise ValueError(f"teacher '{cell.teacher}' returned logits of shape {out.logits.shape} for "
                                 f"split {split}, expected {expected}")
        log.info("teacher outputs %s (cache %s)", "reused" if cached else "computed", key)
        outputs, empty = empty_history_targets(outputs, data, cell.train["teacher_empty_history"])
        info = (self.cache.provenance(key) if cached else None) or describe()
        return outputs, {"teacher_s": round(time.perf_counter() - tic, 3),
                         "record": {"teacher_cache": {"key": key, "reused": cached},
                                    "teacher_info": {**info, "empty_history": empty}}}

    def provenance(self, teacher: Teacher, cell: Cell, data: AnticipationData) -> dict[str, Any]:
        """Where a fitted teacher's soft labels come from: what it says about itself (checkpoint,
        stage A), its corpus and that corpus's fingerprint, the texts it read and how many
        samples of each split it covers."""
        texts = "\n".join(data.classes.text(a) for a in range(data.classes.num_actions))
        return {
            **teacher.describe(),
            "corpus": corpora.provenance(self.components.corpus(cell), self.data_dir),
            "texts": {"verbalisation": data.info.get("protocol", {}).get("verbalisation", "the dataset's"),
                      "sha256": hashlib.sha256(texts.encode("utf-8")).hexdigest()},
            "uids": {split: len(data.splits[split]) for split in ("train", "val")},
        }

    def _cached(self, cell: Cell, data: AnticipationData, compute: Callable[[], dict[str, TeacherOutput]],
                describe: Callable[[], dict[str, Any]], log: logging.Logger) -> tuple[dict[str, TeacherOutput], bool, str]:
        content = self.content(cell, data.fingerprint)
        if self.refit:
            return compute(), False, self.cache.key(content)
        uids = split_uids(data)
        outputs, cached, key = self.cache.get_or_compute(
            content, compute, uids=uids, describe=describe,
            on_wait=lambda holder: log.info("teacher %s is being fitted by %s: waiting", cell.teacher, holder))
        problem = self.cache.coverage_problem(key, uids)
        if problem:
            raise DataError(f"{problem}; delete that folder to refit the teacher")
        return outputs, cached, key

    def _fit(self, teacher: Teacher, cell: Cell, data: AnticipationData, accelerator: Any,
             log: logging.Logger, progress: Progress = SILENT) -> dict[str, TeacherOutput]:
        from accelerate.utils import set_seed

        log.info("fitting teacher %s on %d CPU threads", cell.teacher, cell.train["teacher_threads"])
        with fixed_threads(cell.train["teacher_threads"], accelerator.device.type):
            set_seed(cell.train["teacher_seed"])
            self.fit(teacher, fit_data(data, cell.train["teacher_empty_history"]), accelerator,
                     cell.train["teacher_seed"], progress, log)
            progress.start("teacher soft labels", 2, unit="split")
            outputs = {split: teacher.predict(data, split, accelerator)
                       for split in progress.iterate(("train", "val"))}
            folds = int(cell.train.get("teacher_cross_fit", 0))
            if folds >= 2:
                outputs["train"] = self.out_of_fold(cell, data, accelerator, folds, log, progress)
        return outputs

    def out_of_fold(self, cell: Cell, data: AnticipationData, accelerator: Any, folds: int,
                    log: logging.Logger, progress: Progress = SILENT) -> TeacherOutput:
        """Training-split soft labels from ``folds`` teachers, each fitted without one fold of
        training videos and predicting that fold (k-fold cross-fitting)."""
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
            teacher = self.make(cell)
            set_seed(cell.train["teacher_seed"] + f + 1)
            self.fit(teacher, fit_data(sub, cell.train["teacher_empty_history"]), accelerator,
                     cell.train["teacher_seed"] + f + 1, progress, log)
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

    def members(self, cell: Cell, data: AnticipationData, accelerator: Any, log: logging.Logger,
                own: TeacherOutput, progress: Progress = SILENT) -> tuple[np.ndarray, dict[str, Any]]:
        """Training-split logits ``[N, M, C]`` of the cell's teacher and of every member teacher
        of its loss (each fitted once and cached like any teacher)."""
        stacked, info = [own.logits], {}
        for alias, member in cell.members.items():
            sub = dataclasses.replace(
                cell, teacher=alias, members={},
                components={**cell.components, "teacher": member["name"]},
                configs={**cell.configs, "teacher": member["config"]},
            )
            fitted = self.outputs(sub, data, accelerator, log, progress)
            assert fitted is not None, f"member teacher {alias} is a null teacher"
            outputs, minfo = fitted
            stacked.append(outputs["train"].logits)
            info[alias] = {"name": member["name"], **minfo["record"]["teacher_cache"],
                           "val_metrics": self.components.metrics(cell, outputs["val"].logits, data)}
        return np.stack(stacked, axis=1).astype(np.float32), info

    # -- teacher records ----------------------------------------------------------------------

    def record_path(self, key: str) -> Path:
        return self.store.root / "_teachers" / f"{key}.json"

    def write_record(self, cell: Cell, data: AnticipationData, record: dict[str, Any],
                     teacher_s: float | None) -> None:
        """One record per fitted teacher (next to the cell records), for teacher-only leaderboards;
        written when the teacher is fitted, so its fit time is the real one."""
        key = record["teacher_cache"]["key"]
        path = self.record_path(key)
        reused = record["teacher_cache"]["reused"]
        if reused and path.exists():
            return
        atomic.write_json(path, {
            "status": "ok", "teacher_cache_key": key, "data_kind": "real" if data.data_kind == "real" else data.data_kind,
            "cell": {"dataset": cell.dataset, "teacher": cell.teacher, "student": "text-only", "loss": "none",
                     "seed": cell.train["teacher_seed"], "baseline": False,
                     "label": f"{cell.dataset}/{cell.teacher}"},
            "teacher_info": record.get("teacher_info", {}), "config": cell.configs["teacher"],
            "metrics": record["teacher_metrics"],
            "higher_is_better": self.components.higher_is_better(cell),
            "fit_and_predict_s": teacher_s if not reused else None,
            "versions": record["versions"], "dataset_fingerprint": data.fingerprint,
        })

    def fit_all(self, matrix: Matrix, inputs: Inputs, echo: Callable[[str], None]) -> list[dict[str, Any]]:
        """Fit (or reuse) every teacher of the matrix once per dataset; return teacher records."""
        out, seen = [], set()
        for cell in matrix.cells:
            if self.is_null(cell) or (cell.dataset, cell.teacher) in seen:
                continue
            seen.add((cell.dataset, cell.teacher))
            data = inputs.data(cell)
            accelerator = make_accelerator(cell.train)
            tic = time.perf_counter()
            fitted = self.outputs(cell, data, accelerator, logging.getLogger("bench.teachers"))
            assert fitted is not None
            outputs, info = fitted
            teacher_s = round(time.perf_counter() - tic, 3)
            record = {**info["record"], "teacher_metrics": self.components.metrics(cell, outputs["val"].logits, data),
                      "versions": self.components.versions(cell)}
            self.write_record(cell, data, record, teacher_s)
            saved = json.loads(self.record_path(record["teacher_cache"]["key"]).read_text(encoding="utf-8"))
            shown = ", ".join(f"{k}={v:.2f}" for k, v in saved["metrics"].items() if v is not None)
            how = "reused" if record["teacher_cache"]["reused"] else f"fitted in {teacher_s:.1f}s"
            echo(f"teacher {cell.dataset}/{cell.teacher}: {shown} ({how})")
            out.append(saved)
        return out
