"""The data passed between components: annotated segments, samples with their histories and
observation times, class lists, a dataset's splits (``AnticipationData``), a teacher's soft labels
(``TeacherOutput``) and published baseline tables. Plugins import them from :mod:`benchmark.api`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import ConfigError
from .protocol import FramePadding, frames_of


@dataclass(frozen=True)
class Segment:
    """One annotated action instance of a video (times in seconds)."""

    uid: str
    video: str
    start: float
    end: float
    action: int
    verb: int
    noun: int


#: the class of a test segment whose label is not published
UNLABELLED = -1


@dataclass(frozen=True)
class Sample:
    """One anticipation problem: predict ``target`` from video observed up to ``obs_end``.

    ``history`` holds the action ids of the past segments of the same video that the protocol
    lets a text teacher see, oldest first. It never contains the target or anything after it.
    """

    uid: str
    video: str
    target: Segment
    obs_end: float
    history: tuple[int, ...]


@dataclass
class ClassSpace:
    """Action, verb and noun vocabularies; ``action_verb[a]`` / ``action_noun[a]`` map ids."""

    actions: list[str]
    verbs: list[str]
    nouns: list[str]
    action_verb: np.ndarray
    action_noun: np.ndarray
    action_texts: list[str] = field(default_factory=list)  # verbalised, for text teachers

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    def text(self, action: int) -> str:
        return self.action_texts[action] if self.action_texts else self.actions[action]

    def history_text(self, history: tuple[int, ...] | list[int]) -> str:
        """The teacher's input: the verbalised actions joined by `` <a> `` (oldest first)."""
        return " <a> ".join(self.text(a) for a in history)


@dataclass
class AnticipationData:
    """Everything a cell needs from a dataset, already split and ordered."""

    name: str
    data_kind: str  # "real" or "synthetic"
    classes: ClassSpace
    splits: dict[str, list[Sample]]
    timelines: dict[str, list[Segment]]  # per video, every segment ordered by start
    obs_steps: int  # number of time steps T in a sample's feature sequence
    obs_step_s: float  # seconds between steps
    fingerprint: str
    info: dict[str, Any] = field(default_factory=dict)
    #: steps after ``obs_end`` included in the sequence (RULSTM-style sampling trains on every
    #: anticipation step, up to alpha before the action); 0 for AVT-style sampling. The runner
    #: crops them away for students that do not declare ``uses_future_steps``.
    obs_tail_steps: int = 0
    #: per split, per video: the annotated segments whose labels that split's samples may see
    #: (per-step labels of past actions). A split never sees another split's labels, as in AVT,
    #: where a dataset object labels its frames from its own annotation file only. Left empty, a
    #: split's own target segments are used (:meth:`label_timeline`).
    split_timelines: dict[str, dict[str, list[Segment]]] = field(default_factory=dict)
    #: per split, the segments the protocol dropped and why (``{"val": {"observation before
    #: the video": 10}}``); they are neither trained on nor scored
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    #: how steps before a video's first frame are read (:func:`benchmark.protocol.frames_of`)
    frame_padding: FramePadding = "clamp"
    #: test splits without labels (``{"test": [...]}``): samples whose target segment has
    #: :data:`UNLABELLED` classes. They are never trained on or scored; a cell predicts them
    #: when ``train.predict_splits`` names them, for a submission file (``bench submit``)
    unlabelled: dict[str, list[Sample]] = field(default_factory=dict)
    #: named subsets of the validation segments that metrics score on (EPIC-100's
    #: ``unseen``, ``tail_verbs``...): segment uids. A subset whose list is not available is
    #: absent here but named in ``subset_sources``, so a metric on it can say which file is missing
    subsets: dict[str, list[str]] = field(default_factory=dict)
    #: where each subset's list comes from (a file path), present or not
    subset_sources: dict[str, str] = field(default_factory=dict)

    def samples(self, split: str) -> list[Sample]:
        """The samples of a labelled or an unlabelled split."""
        if split in self.splits:
            return self.splits[split]
        if split in self.unlabelled:
            return self.unlabelled[split]
        known = sorted(self.splits) + sorted(self.unlabelled)
        raise ConfigError(f"{self.name} has no split {split!r} (it has {', '.join(known)})")

    def is_labelled(self, split: str) -> bool:
        return split in self.splits

    @property
    def anticipation_index(self) -> int:
        """Index of the step at ``obs_end`` (= start - tau_a): the last one a prediction may use."""
        return self.obs_steps - 1 - self.obs_tail_steps

    def label_timeline(self, split: str) -> dict[str, list[Segment]]:
        """Per video, ordered by start: the segments whose labels samples of ``split`` may see."""
        if split in self.split_timelines:
            return self.split_timelines[split]
        by_video: dict[str, list[Segment]] = {}
        for sample in self.splits[split]:
            by_video.setdefault(sample.video, []).append(sample.target)
        return {v: sorted(segs, key=lambda s: (s.start, s.end)) for v, segs in sorted(by_video.items())}

    def obs_times(self, sample: Sample) -> np.ndarray:
        """Timestamps (s) of the ``obs_steps`` steps; step ``anticipation_index`` is ``obs_end``."""
        offsets = (np.arange(self.obs_steps, dtype=np.float64) - self.anticipation_index) * self.obs_step_s
        return sample.obs_end + offsets

    def obs_frames(self, sample: Sample) -> np.ndarray:
        """Frame numbers (30 fps clock) of the ``obs_steps`` steps, padded before the video's
        first frame as ``frame_padding`` says: the frames every feature source reads."""
        return frames_of(self.obs_times(sample), self.frame_padding)


@dataclass
class TeacherOutput:
    """Soft labels for one split: action logits ``[N, C]`` and an optional feature ``[N, H]``."""

    logits: np.ndarray
    features: np.ndarray | None = None


@dataclass
class BaselineRow:
    """One published result."""

    dataset: str
    student: str
    teacher: str
    loss: str
    metrics: dict[str, float]
    label: str = ""
    setting: str = ""
    uncertain: bool = False  # the source could not be checked exactly (see ``note``)
    note: str = ""


@dataclass
class BaselineTable:
    """Published numbers with their citation, shipped by a plugin (usually from YAML)."""

    name: str
    citation: str
    rows: list[BaselineRow]
    version: str = "1"
    description: str = ""
    kind: ClassVar[str] = "baseline"


@dataclass
class ReproductionCard:
    """One published row and the matrix cell that reproduces it (``bench reproduce``)."""

    name: str
    description: str
    matrix: str  # a shipped matrix (or profile) name, or a path
    cell: dict[str, str]  # dataset, teacher, student, loss (matrix aliases)
    seeds: list[int]  # the seeds whose mean is compared
    published: dict[str, float]  # metric -> the published value
    source: str  # where the published values come from
    tolerance: dict[str, float]  # metric -> largest absolute difference that still reproduces
    #: the published row in a baseline table, ``{table, dataset, label}``, whose values must equal ``published``
    baseline: dict[str, str] = field(default_factory=dict)
    #: name -> {at: a dotted path into the cell's resolved config, expect: its value}, e.g. the
    #: frame rate, resolution and feature file the published run used
    preprocessing: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_kind: str = "real"  # "synthetic" for a card that checks the suite on generated data
    path: str = ""
    version: str = "1"
    kind: ClassVar[str] = "card"
