"""Base classes of every component kind, and the data structures passed between them.

Data flows: Dataset -> AnticipationData (samples with histories and observation times)
-> FeatureSource -> float32 ``[N, T, D]`` -> Student; Teacher -> TeacherOutput (soft labels)
-> DistillLoss; Student scores -> Metric -> record -> leaderboard.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator

import numpy as np

from .checks import FeatureReport, Finding
from .datatypes import (UNLABELLED, AnticipationData, BaselineRow, BaselineTable, ClassSpace, ReproductionCard,
                        Sample, Segment, TeacherOutput)
from .progress import SILENT, Progress
from .submission import ChallengeFormat

#: what plugins import from here: the base classes and the data passed between them
__all__ = ["AnticipationData", "BaselineRow", "BaselineTable", "ChallengeFormat", "ClassSpace", "Component", "Corpus", "Dataset",
           "DistillLoss", "FeatureReport", "FitContext", "FeatureSource", "Finding", "Launcher", "LoadContext", "Metric",
           "Progress", "SELECTED_NOTE", "SELECTED_ROW_LABEL", "ReproductionCard", "Sample", "Segment", "Student", "Teacher", "TeacherOutput", "TrainStage",
           "UNLABELLED"]

# ----------------------------------------------------------------------------- components


class Component:
    """Common contract: a unique ``name``, a ``version`` (bump it when results change) and a
    dataclass ``Config`` whose defaults make the component usable as is."""

    kind: ClassVar[str] = "component"
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""

    @dataclass
    class Config:
        pass

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return dataclasses.asdict(cls.Config())


class Dataset(Component):
    """Annotations and anticipation protocol of one benchmark dataset."""

    kind = "dataset"
    data_kind: ClassVar[str] = "real"
    #: modalities this dataset has feature files for (used to validate students)
    modalities: ClassVar[tuple[str, ...]] = ("rgb",)
    #: JSON list of the annotation files to download: ``[{"path", "url", "sha256", "bytes"}]``,
    #: paths relative to ``<data_dir>/<dataset name>/``; None for generated datasets
    manifest_file: ClassVar[Path | None] = None
    #: the layout of its challenge's test-set submission files (``bench submit``); None where
    #: it has no challenge
    challenge: ClassVar[ChallengeFormat | None] = None

    def fingerprint(self, data_dir: Path | None) -> str:
        """A cheap hash of everything that changes the data (files, protocol settings)."""
        raise NotImplementedError

    def load(self, data_dir: Path | None) -> AnticipationData:
        raise NotImplementedError


@dataclass(frozen=True)
class FitContext:
    """What a teacher is given in :meth:`Teacher.fit` besides the data."""

    #: the plugin registries (to build a corpus or another component by name)
    plugins: Any = None
    #: the data folder (annotation files a corpus may read)
    data_dir: Path | None = None
    #: where the fit reports its stages and steps (the live view, ``bench status``, the log);
    #: silent by default
    progress: Progress = SILENT
    #: the cell's log: what was loaded (checkpoint, missing weights), losses per epoch
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("bench.teacher"))


@dataclass(frozen=True)
class LoadContext:
    """What a feature source is given in :meth:`FeatureSource.load` besides the data."""

    #: where a long load reports its progress (e.g. frames read of the total); silent by default
    progress: Progress = SILENT


class FeatureSource(Component):
    """Produces observed features for the samples of a split."""

    kind = "feature_source"
    #: "real" for features read from files, "simulated" for generated ones
    data_kind: ClassVar[str] = "real"
    #: True for a source that computes its features (deterministically from its config and the
    #: dataset): the runner keeps them on disk (``<runs>/_cache/features``) for other processes
    disk_cache: ClassVar[bool] = False

    def fingerprint(self) -> str:
        """Hash of what changes the features beyond the config, which the run id already covers
        (e.g. size and modification time of feature files). Part of every run id."""
        return ""

    def load(self, data: AnticipationData, split: str, context: LoadContext = LoadContext()) -> np.ndarray:
        """Return float32 ``[N, T, D]`` for ``data.samples(split)`` (a labelled or unlabelled split), in sample order; a long load
        reports its steps to ``context.progress``.

        A source may assign ``self.last_info`` (a dict, e.g. counts of missing frames); it is
        copied into the record of every cell that uses these features."""
        raise NotImplementedError

    #: what the last :meth:`load` reported (assigned a new dict by each load, never mutated)
    last_info: dict[str, Any] = {}

    def inspect(self, data: AnticipationData, split: str, sample: int = 256) -> FeatureReport:
        """What ``bench data doctor`` can tell about ``split`` without training: coverage of the
        needed keys (after any search back), width and dtype, values of ``sample`` vectors
        (NaN, Inf, all-zero). The default: nothing to inspect (features computed on the fly)."""
        return FeatureReport([Finding("ok", f"computed by {self.name}: no files to check")])


class Teacher(Component):
    """Predicts the next action from the history; its outputs become soft labels."""

    kind = "teacher"
    #: True for the no-teacher baseline (nothing is fitted, no soft labels exist)
    is_null: ClassVar[bool] = False
    #: True when :meth:`predict` returns a pooled feature (needed by feature losses)
    provides_features: ClassVar[bool] = False
    #: "text" for language-model teachers, "ids" for teachers reading action ids only
    input_kind: ClassVar[str] = "text"
    #: plugin API 1 only (deprecated): ``context.plugins`` and ``context.data_dir``, set before an
    #: API-1 ``fit(data, accelerator, seed)`` (see :mod:`benchmark.plugin_api`)
    plugins: Any = None
    data_dir: Path | None = None

    def fit(self, data: AnticipationData, accelerator: Any, seed: int, context: FitContext = FitContext()) -> None:
        """Fit on ``data.splits["train"]``; ``context`` gives the plugin registries and the data
        folder."""
        raise NotImplementedError

    def predict(self, data: AnticipationData, split: str, accelerator: Any) -> TeacherOutput:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the teacher's record says about the fitted teacher (``teacher_info``), e.g. the
        checkpoint it loaded; read after :meth:`fit`."""
        return {}

    def corpus(self) -> tuple[str, dict[str, Any]] | None:
        """The registered corpus this teacher pretrains on and its config, or None (no stage A).
        The runner checks that the corpus is available before a run, and its fingerprint joins
        the teacher cache key and the teacher's provenance; :func:`benchmark.corpora.build_corpus`
        builds it."""
        return None


class Student(Component):
    """A vision model: observed features ``[B, T, D]`` -> next-action logits."""

    kind = "student"
    #: modalities the student needs from the dataset's feature files
    required_modalities: ClassVar[tuple[str, ...]] = ()
    #: True for students (RULSTM) that take the whole sequence, steps after ``obs_end`` included,
    #: and guarantee that the prediction scored at tau_a uses only steps up to
    #: ``anticipation_index`` (given to :meth:`build` through ``self.anticipation_index``)
    uses_future_steps: ClassVar[bool] = False
    #: set by the runner before :meth:`build`: the index of the step at start - tau_a, and the
    #: feature columns of each modality when the source reports them (``{"rgb": [0, 1024]}``)
    anticipation_index: int = -1
    feature_layout: dict[str, list[int]] | None = None
    #: set by the runner before :meth:`build`: what the feature source reported for the train
    #: split (``layout``, and e.g. ``frame_shape`` for frame sources)
    input_info: dict[str, Any] = {}
    #: True when :meth:`own_loss` needs ``step_targets`` ``[B, T]``: the action in progress at
    #: each observed step (-100 where no annotated segment covers it), e.g. AVT's past-action loss
    needs_step_labels: ClassVar[bool] = False
    #: published optimiser settings (keys of ``train:``) used for the keys a matrix's ``train:``
    #: block does not set; ``components.student.<alias>.train`` overrides both
    train_defaults: ClassVar[dict[str, Any]] = {}

    def build(self, input_dim: int, num_classes: int) -> "Any":
        """Return a ``torch.nn.Module`` whose forward(features) gives a dict with ``logits``
        ``[B, C]`` and ``feature`` ``[B, H]`` (the aggregated feature used by feature losses)."""
        raise NotImplementedError

    def own_loss(self, output: dict, targets: Any, step_targets: Any = None) -> Any:
        """The student's own training loss (default: cross-entropy on the next action).
        ``step_targets`` is given only to students with ``needs_step_labels``."""
        import torch.nn.functional as F

        return F.cross_entropy(output["logits"].float(), targets)

    def pretrain_epochs(self) -> int:
        """Epochs of a pretraining stage run before the normal epochs, with ``model.stage`` set
        to ``"pretrain"`` and distillation off (e.g. RULSTM's sequence completion); then
        ``model.stage`` is ``"train"``."""
        return 0

    def training_stages(self, epochs: int) -> list["TrainStage"]:
        """The stages the training loop runs, in order; ``epochs`` is ``train.epochs``. The
        default: :meth:`pretrain_epochs` of ``pretrain``, then ``epochs`` of ``train``, one
        optimiser throughout. Students trained in several runs (RULSTM's branches, then MATT)
        return more, with fresh optimisers and model selection."""
        stages = [TrainStage("pretrain", self.pretrain_epochs(), mode="pretrain")] if self.pretrain_epochs() else []
        return stages + [TrainStage("train", int(epochs))]

    def input_problem(self, info: dict[str, Any]) -> str | None:
        """Why features a source reports as ``info`` (``layout``, ``frame_shape``) cannot feed
        this student, or None. Checked by ``bench data doctor`` before anything trains."""
        return None

    def stage_parameters(self, model: Any, stage: "TrainStage") -> list[Any]:
        """The parameters a stage with ``fresh_optimizer`` trains (default: all of them)."""
        return [p for p in model.parameters() if p.requires_grad]


#: the leaderboard label of rows whose metrics come from a validation-selected epoch
SELECTED_ROW_LABEL = "best val epoch"
SELECTED_NOTE = (f"Rows labelled `{SELECTED_ROW_LABEL}` show the epoch their student's own model selection kept "
                 "(best validation top-5 at the scored step, as RULSTM selects); each record also holds the last "
                 "epoch's metrics (`metrics_last_epoch`).")


@dataclass
class TrainStage:
    """One stage of a student's training (:meth:`Student.training_stages`)."""

    name: str
    epochs: int
    #: ``model.stage`` during the stage: ``"pretrain"`` (e.g. sequence completion, no
    #: distillation) or ``"train"``
    mode: str = "train"
    #: ``model.branch`` during the stage: the part of the model that runs ("" = all of it)
    branch: str = ""
    #: start the stage with a new optimiser over :meth:`Student.stage_parameters`
    fresh_optimizer: bool = False
    #: evaluate on validation after every epoch and end the stage with the weights of the epoch
    #: of best top-5 at the scored step (RULSTM's model selection)
    select_best: bool = False


class DistillLoss(Component):
    """A term added to the student's loss during training, from the teacher's soft labels."""

    kind = "loss"
    requires_teacher: ClassVar[bool] = True
    requires_teacher_features: ClassVar[bool] = False
    #: True only for a loss that adds nothing (``none``): with no teacher, its cells are the
    #: reference rows of the leaderboards. A teacher-free loss that does add a term (e.g. label
    #: smoothing) leaves this False, so its rows are compared with the reference, not used as one.
    adds_nothing: ClassVar[bool] = False

    def member_teachers(self) -> list[str]:
        """Aliases (or names) of further teachers this loss combines with the cell's teacher.
        The runner fits (or reuses) them and adds ``members`` ``[B, M, C]`` (the cell's teacher
        first) to the teacher batch."""
        return []

    def build(self, student_dim: int, teacher_dim: int | None) -> "Any":
        """Return a ``torch.nn.Module`` with forward(student_output, teacher_batch) -> scalar,
        or ``None`` when the loss adds nothing (the CE-only baseline). ``teacher_batch`` has
        ``logits`` and, if the teacher provides them, ``features``."""
        raise NotImplementedError


class Metric(Component):
    """A scalar score (in percent) from student scores on the val split."""

    kind = "metric"
    higher_is_better: ClassVar[bool] = True

    def compute(self, scores: np.ndarray, targets: np.ndarray, data: AnticipationData) -> float:
        raise NotImplementedError

    def requirement(self, data: AnticipationData) -> Finding:
        """Whether ``data`` has what this metric needs (a class list, say): ``ok``; ``warning``
        where the dataset has no such list at all (the metric is left blank for it); ``error``
        where it should have one and it is missing or empty (the metric would mislead)."""
        return Finding("ok", "needs nothing beyond the labels")


class Corpus(Component):
    """Text for a teacher's in-domain pretraining (masked or causal LM)."""

    kind = "corpus"

    def lines(self, data: AnticipationData, data_dir: Path | None) -> Iterator[str]:
        """Yield one training text per line. ``data`` is the dataset the teacher is fitted on:
        a corpus must never yield text from its validation split."""
        raise NotImplementedError

    def fingerprint(self, data_dir: Path | None) -> str:
        """What identifies the corpus's text beyond its config, e.g. the sha256 of the file it
        reads (part of the teacher cache key and the teacher's provenance). Raise
        :class:`~benchmark.errors.ConfigError` when that file is not available here: ``bench
        validate`` then notes it and ``bench run`` stops before running. Default "": a corpus
        derived from the dataset, which the dataset fingerprint already covers."""
        return ""


class Launcher(Component):
    """Executes cells: in this process, in subprocesses, on a cluster..."""

    kind = "launcher"

    #: set by the runner before :meth:`launch`: the :class:`~benchmark.run.Runner` whose
    #: ``execute`` is given (launchers that run cells in other processes need its folders,
    #: plugin folders and cell locks)
    runner: Any = None

    def launch(self, jobs: Iterable[Any], execute: Callable[[Any], dict]) -> Iterator[dict]:
        """Run ``execute(job)`` for every job and yield each resulting record."""
        raise NotImplementedError


COMPONENT_KINDS: dict[str, type] = {
    "teacher": Teacher,
    "student": Student,
    "loss": DistillLoss,
    "dataset": Dataset,
    "feature_source": FeatureSource,
    "metric": Metric,
    "baseline": BaselineTable,
    "card": ReproductionCard,
    "launcher": Launcher,
    "corpus": Corpus,
}
