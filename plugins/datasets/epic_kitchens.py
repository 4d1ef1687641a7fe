"""What EPIC-Kitchens-55 and EPIC-Kitchens-100 share: the RULSTM split files, the class space
built from ``actions.csv`` and the official verb and noun keys, the protocol steps, and the
unlabelled test segments a submission file is written for."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.api import UNLABELLED, AnticipationData, ClassSpace, Dataset, Sample, Segment
from benchmark.errors import DataError
from benchmark.protocol import seconds_of

from . import parsing
from .anticipation import apply_video_start, build_samples, fingerprint, observation, order_timelines


def check_action_classes(path: Path, actions: parsing.ActionTable, verbs: list[str], nouns: list[str]) -> None:
    for i, (v, n) in enumerate(zip(actions.verb, actions.noun)):
        if not (0 <= v < len(verbs) and 0 <= n < len(nouns)):
            raise DataError(f"{path}:{i + 2}: verb {v} or noun {n} is not a known class")


def class_space(actions: parsing.ActionTable, verbs: list[str], nouns: list[str], texts: list[str]) -> ClassSpace:
    return ClassSpace(actions=actions.names, verbs=verbs, nouns=nouns,
                      action_verb=np.asarray(actions.verb, dtype=np.int64),
                      action_noun=np.asarray(actions.noun, dtype=np.int64), action_texts=texts)


def test_samples(path: Path, anticipation_s: float, numeric_ids: bool) -> list[Sample]:
    """The segments of a RULSTM test file as samples without labels (no history: a test
    segment's past is unlabelled too), in (video, start) order."""
    rows = parsing.read_rulstm_test_segments(path, numeric_ids)
    segments = [Segment(r.uid, r.video, seconds_of(r.start_frame), seconds_of(r.end_frame), UNLABELLED,
                        UNLABELLED, UNLABELLED) for r in rows]
    return build_samples(segments, {}, anticipation_s, 0)


@dataclass
class SplitParts:
    """A dataset's labelled splits as the protocol keeps them, and what it dropped."""

    splits: dict[str, list[Sample]]
    timelines: dict[str, list[Segment]]
    split_timelines: dict[str, dict[str, list[Segment]]]
    dropped: dict[str, dict[str, int]]
    padding: str


def protocol_splits(config: Any, paths: dict[str, Path], actions: parsing.ActionTable, numeric_ids: bool,
                    where: str) -> SplitParts:
    """Train and val of a RULSTM split (disjoint videos), the protocol's drops applied, every
    sample's history from its own split."""
    obs = observation(config)
    annotated = parsing.read_split_segments(paths, actions, numeric_ids)
    overlap = {s.video for s in annotated["train"]} & {s.video for s in annotated["val"]}
    if overlap:
        raise DataError(f"{paths['val']}: videos {sorted(overlap)[:3]} also appear in {paths['train'].name}")
    timelines = order_timelines(annotated["train"] + annotated["val"])
    start = apply_video_start(annotated, obs, config.sampling, config.anticipation_s, config.video_start, where)
    segments = start.kept
    splits = {split: build_samples(segments[split], order_timelines(segments[split]), config.anticipation_s,
                                   config.history_len) for split in ("train", "val")}
    return SplitParts(splits, timelines, {split: order_timelines(segments[split]) for split in ("train", "val")},
                      start.dropped, start.padding)


class EpicKitchensDataset(Dataset):
    """The loading steps of an EPIC-Kitchens dataset on RULSTM's anticipation split; a subclass
    names its files and builds its class space and its ``info``."""

    data_kind = "real"
    modalities = ("rgb", "flow", "obj")
    #: the files of the fingerprint (labelled splits, classes, subset lists), relative to
    #: ``<data_dir>/<name>/``
    FILES: ClassVar[dict[str, str]] = {}
    #: unlabelled test splits and their RULSTM files; not part of the fingerprint (no training
    #: or validation result depends on them)
    TEST_FILES: ClassVar[dict[str, str]] = {}
    #: EPIC-55 numbers its segments, EPIC-100 names them
    numeric_ids: ClassVar[bool] = True

    def _root(self, data_dir: Path | None) -> Path:
        if data_dir is None:
            raise DataError(f"{self.name}: no data directory (use --data-dir or BENCH_DATA_DIR)")
        return Path(data_dir) / self.name

    def _paths(self, data_dir: Path | None) -> dict[str, Path]:
        root = self._root(data_dir)
        return {k: root / v for k, v in self.FILES.items()}

    def test_paths(self, data_dir: Path | None) -> dict[str, Path]:
        root = self._root(data_dir)
        return {k: root / v for k, v in self.TEST_FILES.items()}

    def observation(self):
        return observation(self.config)

    def fingerprint(self, data_dir: Path | None) -> str:
        self.observation()  # validates the protocol settings
        return fingerprint(self.name, self.version, dataclasses.asdict(self.config), self._paths(data_dir).values())

    #: the id and key columns of the official verb and noun class files
    CLASS_COLUMNS: ClassVar[dict[str, tuple[str, str]]] = {}

    def action_texts(self, actions: parsing.ActionTable, verbs: list[str], nouns: list[str]) -> list[str]:
        """How a text teacher reads each action."""
        raise NotImplementedError

    def classes(self, paths: dict[str, Path]) -> tuple[parsing.ActionTable, ClassSpace]:
        """``actions.csv`` checked against the official verb and noun keys, and the class space."""
        actions = parsing.read_epic_actions(paths["actions"])
        verbs = parsing.read_epic_class_keys(paths["verbs"], *self.CLASS_COLUMNS["verbs"])
        nouns = parsing.read_epic_class_keys(paths["nouns"], *self.CLASS_COLUMNS["nouns"])
        check_action_classes(paths["actions"], actions, verbs, nouns)
        return actions, class_space(actions, verbs, nouns, self.action_texts(actions, verbs, nouns))

    def info(self, paths: dict[str, Path], classes: ClassSpace, parts: SplitParts) -> dict[str, Any]:
        return {}

    def subsets(self, data_dir: Path | None) -> tuple[dict[str, list[str]], dict[str, str]]:
        """The validation subsets its metrics score on (present lists) and the file of every one."""
        return {}, {}

    def load(self, data_dir: Path | None) -> AnticipationData:
        c, paths = self.config, self._paths(data_dir)
        obs = self.observation()
        actions, classes = self.classes(paths)
        parts = protocol_splits(c, paths, actions, self.numeric_ids, f"components.dataset.{self.name}")
        unlabelled = {split: test_samples(path, c.anticipation_s, self.numeric_ids)
                      for split, path in self.test_paths(data_dir).items() if path.is_file()}
        subsets, sources = self.subsets(data_dir)
        return AnticipationData(
            name=self.name, data_kind=self.data_kind, classes=classes, splits=parts.splits,
            timelines=parts.timelines, split_timelines=parts.split_timelines,
            obs_steps=obs.steps, obs_step_s=obs.step_s, obs_tail_steps=obs.tail_steps,
            dropped=parts.dropped, frame_padding=parts.padding, fingerprint=self.fingerprint(data_dir),
            info={**self.info(paths, classes, parts), "protocol": dataclasses.asdict(c)},
            unlabelled=unlabelled, subsets=subsets, subset_sources=sources,
        )
