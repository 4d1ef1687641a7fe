"""What a matrix resolves to: its ``train:`` and ``leaderboard:`` settings, the cells (one
combination of axis values with resolved components and configs) and the matrix itself."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .settings import setting

AXES = ("dataset", "teacher", "student", "loss", "seed")


@dataclass
class TrainConfig:
    """Student training settings shared by every cell of a matrix."""

    epochs: int = setting(10, ge=1)
    batch_size: int = setting(64, ge=1)
    eval_batch_size: int = setting(256, ge=1)
    lr: float = setting(1e-3, ge=0.0)  # 0 is allowed: a frozen student (its loss still reported)
    weight_decay: float = setting(0.0, ge=0.0)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    momentum: float = setting(0.9, ge=0.0, lt=1.0)
    nesterov: bool = False  # SGD only (AVT's presets use it)
    # per-step learning-rate schedule (benchmark/schedule.py): "constant" or "cosine" (AVT's, to 0)
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_epochs: int = setting(0, ge=0)  # linear warm-up from 0, before the schedule (AVT-b: 5)
    # "world_size": lr x number of processes, with batch_size per process, as AVT scales it
    # (func/train.py); "none": lr as given whatever the number of processes
    lr_scaling: Literal["none", "world_size"] = "none"
    grad_clip: float = setting(0.0, ge=0.0)  # 0 disables clipping
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"  # passed to accelerate
    # CPU threads of a teacher fit: CPU kernels split their sums by thread count, so a teacher
    # fitted on 2 threads differs from one fitted on 1; a fixed count gives the same soft labels
    # whichever launcher (and so whichever per-process thread count) fits it
    teacher_threads: int = setting(1, ge=1)
    teacher_seed: int = setting(0, ge=0)  # teachers are fitted once with this seed, whatever the cell seed
    # k >= 2: the teacher's soft labels for the training split come from k teachers each fitted
    # without one fold of training videos (out-of-fold), instead of from a teacher that saw them
    teacher_cross_fit: int = setting(0, ge=0)
    # a sample with no past action: "teacher" keeps what the teacher predicts from an empty
    # history; "uniform" gives it a uniform target (constant logits), as the authors' student
    # code does for a uid without teacher logits (their teachers never see an empty history)
    teacher_empty_history: Literal["teacher", "uniform"] = "teacher"
    cpu: bool = False  # force CPU even when a GPU is visible
    # torch.compile the student (nn.Module.compile): training drops a short last batch and
    # evaluation pads its last batch, so every step has the same shapes (docs/performance.md)
    compile: bool = False
    compile_backend: str = "inductor"  # any torch.compile backend, e.g. aot_eager to debug
    # device memory the cell's inputs may take (0: half the free memory on CUDA, all of it on
    # CPU); inputs larger than that stay in host memory and are streamed in chunks
    device_memory_mb: float = setting(0.0, ge=0.0)
    # limits of one cell (0 = none), checked between training steps; exceeding one fails the cell
    time_budget_s: float = setting(0.0, ge=0.0)  # wall time since the cell started
    memory_budget_mb: float = setting(0.0, ge=0.0)  # peak resident memory of the process during the cell
    checkpoint_every_epochs: int = setting(0, ge=0)  # 0 = off; an unfinished cell resumes from its last checkpoint
    trackers: list[str] = field(default_factory=list)  # Accelerate trackers, e.g. [tensorboard]
    # splits whose action scores the cell keeps in predictions/ (val, or an unlabelled test
    # split such as epic100's test): what `bench submit` writes submission files from
    save_predictions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:  # ranges: the setting() declarations; relations here
        if "train" in self.save_predictions:
            raise ValueError("save_predictions: expected val or an unlabelled split such as test, got train")
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs: expected at most epochs ({self.epochs}), got {self.warmup_epochs}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise ValueError("nesterov: needs optimizer sgd with momentum > 0")
        if self.teacher_cross_fit == 1:
            raise ValueError("teacher_cross_fit: expected 0 (off) or a number of folds >= 2, got 1")
        if self.compile:
            from torch._dynamo import list_backends

            known = list_backends(exclude_tags=())
            if self.compile_backend not in known:
                raise ValueError(f"compile_backend: unknown torch.compile backend {self.compile_backend!r}; "
                                 f"torch knows {', '.join(known)}")
        if self.trackers:
            from accelerate.utils import LoggerType

            known = sorted(t.value for t in LoggerType)
            for name in self.trackers:
                if name not in known:
                    raise ValueError(f"trackers: unknown tracker {name!r}; Accelerate knows {', '.join(known)}")


@dataclass
class LeaderboardConfig:
    # the metric Δ and relative gain compare; unset: top5_action, or the first metric when the
    # matrix does not compute top5_action
    primary: str = "top5_action"
    # dataset -> its own primary metric, e.g. {egtea: top1_action} (the paper's EGTEA metric)
    primary_by_dataset: dict[str, str] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)  # empty: every metric of the matrix
    baselines: list[str] = field(default_factory=list)  # baseline table names to show
    output: str = ""  # file stem in the leaderboard folder; empty: the matrix name
    # row for Δ / relative gain: empty = same source+student with teacher none and loss none;
    # "SOURCE:LABEL" = that one row (e.g. "avt2021:AVT-b + AVT-h")
    reference: str = ""


@dataclass
class Cell:
    """One run: a point of the matrix with every component config resolved."""

    dataset: str
    teacher: str
    student: str
    loss: str
    seed: int
    feature_source: str
    # alias -> registered component name (an axis value may be an alias with ``use:``)
    components: dict[str, str]
    configs: dict[str, dict[str, Any]]  # kind -> resolved config as a plain dict
    train: dict[str, Any]
    metrics: list[str]
    matrix: str
    baseline: bool = False  # no teacher and no distillation: the reference row
    # further teachers a loss combines with the cell's teacher (ensemble losses):
    # alias -> {"name": registered name, "config": resolved config}
    members: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def axes(self) -> dict[str, Any]:
        return {a: getattr(self, a) for a in AXES}

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.student}/{self.teacher}/{self.loss}/seed{self.seed}"


@dataclass
class Matrix:
    name: str
    path: Path | None
    raw: dict[str, Any]
    cells: list[Cell]
    dropped: list[tuple[dict[str, Any], str]]  # (axes, reason) removed by validation
    leaderboard: LeaderboardConfig
    train: TrainConfig
    #: the launcher this matrix runs on unless the command line names one: {"name": ..., options...}
    launcher: dict[str, Any] = field(default_factory=dict)
