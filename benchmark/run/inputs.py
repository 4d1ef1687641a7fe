"""A cell's inputs: its dataset and features (each loaded once per process), and the arrays its
student trains on (the observed steps it may see, the targets, per-step labels)."""
from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from typing import Any

import numpy as np

from ..api import AnticipationData, FeatureSource, LoadContext, Student
from ..feature_cache import FeatureCache
from ..matrix import Cell
from ..plugin_api import load_features
from ..progress import SILENT, Progress
from ..runid import canonical_json
from .components import Components, targets_of
from .training import TrainData

#: per split, the features ``[N, T, D]`` and what the source reported (``last_info``)
Features = tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]


class Inputs:
    def __init__(self, components: Components, data_dir: Path, feature_cache: FeatureCache):
        self.components = components
        self.data_dir = data_dir
        self.feature_cache = feature_cache
        self._data: dict[str, AnticipationData] = {}
        self._features: dict[str, Features] = {}

    def data(self, cell: Cell) -> AnticipationData:
        key = canonical_json([cell.components["dataset"], cell.configs["dataset"]])
        if key not in self._data:
            self._data[key] = self.components.build(cell, "dataset").load(self.data_dir)
        return self._data[key]

    def features(self, cell: Cell, fs: FeatureSource, data: AnticipationData, progress: Progress = SILENT) -> Features:
        """Features of both splits, loaded once per process (and once per machine for a source
        with ``disk_cache``), and what the source reported; the source reports its progress to
        ``progress``."""
        key = canonical_json([cell.components["feature_source"], cell.configs["feature_source"], data.fingerprint])
        if key not in self._features:
            def compute() -> Features:
                arrays, info = {}, {}
                for split in ("train", "val"):
                    fs.last_info = {}
                    arrays[split] = load_features(fs, data, split, LoadContext(progress))
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


def train_data(student: Student, data: AnticipationData, features: dict[str, np.ndarray]) -> TrainData:
    """The arrays ``student`` trains and is scored on: only the steps up to start - tau_a unless
    it ``uses_future_steps``; per-step labels when it ``needs_step_labels``; the features of any
    further split in ``features`` (a test split to predict) cropped the same way. The teacher's
    outputs are added by the caller."""
    steps_used = features["train"].shape[1]
    if not student.uses_future_steps:  # nothing after start - tau_a reaches the student
        steps_used = data.anticipation_index + 1
    x = {split: array[:, :steps_used] for split, array in features.items()}
    steps = step_labels(data, "train")[:, :steps_used] if student.needs_step_labels else None
    return TrainData(x.pop("train"), targets_of(data, "train"), x.pop("val"), data.classes.num_actions,
                     y_val=targets_of(data, "val"), step_train=steps, x_predict=x)


def predict_features(fs: FeatureSource, data: AnticipationData, splits: list[str],
                     progress: Progress = SILENT) -> dict[str, np.ndarray]:
    """Features of the splits a cell keeps predictions of, beyond train and val (the unlabelled
    test splits), computed for this cell only."""
    out = {}
    for split in splits:
        if split in ("train", "val"):
            continue
        data.samples(split)  # an unknown split fails here, naming the splits there are
        out[split] = load_features(fs, data, split, LoadContext(progress))
    return out


def split_uids(data: AnticipationData, splits: tuple[str, ...] = ("train", "val")) -> dict[str, list[str]]:
    """Per split, the uids of its samples in order: the rows of every per-sample array."""
    return {split: [s.uid for s in data.splits[split]] for split in splits}


def step_labels(data: AnticipationData, split: str) -> np.ndarray:
    """``[N, T]`` action in progress at each observed step of each sample (the latest-starting
    segment with start <= t < end), -100 where no segment covers the step. Only segments that
    started before the step's time can match, so the anticipated segment never does, and only
    segments of the same split (:meth:`AnticipationData.label_timeline`), so no label of another
    split reaches a training tensor."""
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
