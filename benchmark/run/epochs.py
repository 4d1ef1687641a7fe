"""The epochs of a student's training: its stages laid out one entry per epoch, and the span of
epochs each optimiser's learning-rate schedule covers."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..api import TrainStage


@dataclass
class EpochPlan:
    stages: list[TrainStage]
    #: (stage index, stage) of every epoch
    per_epoch: list[tuple[int, TrainStage]] = field(init=False)
    #: first epoch of each stage
    first_epoch: dict[int, int] = field(init=False)
    #: the stage whose fresh optimiser a stage trains with (its schedule starts there)
    span_start: dict[int, int] = field(init=False)
    #: epochs the schedule of each stage's optimiser spans
    span_epochs: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.stages = [st for st in self.stages if st.epochs > 0]
        plan = self.stages
        self.per_epoch = [(k, st) for k, st in enumerate(plan) for _ in range(st.epochs)]
        # an optimiser's schedule spans the epochs up to the next stage that starts a fresh one
        starts: dict[int, int] = {}
        for k, st in enumerate(plan):
            starts[k] = k if st.fresh_optimizer or k == 0 else starts[k - 1]
        self.span_start = starts
        self.first_epoch = {k: sum(st.epochs for st in plan[:k]) for k in range(len(plan))}
        self.span_epochs = {k: sum(plan[j].epochs for j in range(len(plan)) if starts[j] == starts[k])
                            for k in range(len(plan))}

    @property
    def names(self) -> list[str]:
        """One stage name per epoch (checkpoints compare them)."""
        return [st.name for _, st in self.per_epoch]

    @property
    def staged(self) -> bool:
        """Whether the training has stages beyond plain epochs (fresh optimisers, branches,
        model selection)."""
        return any(st.fresh_optimizer or st.select_best or st.branch for st in self.stages)

    def epoch_name(self, stage: TrainStage, count: int) -> str:
        """How the logs name the ``count``-th epoch of ``stage``."""
        if self.staged:
            return f"{stage.name} {count}/{stage.epochs}"
        # the names the loss log has always used
        return f"pretrain {count}/{stage.epochs}" if stage.mode == "pretrain" else f"epoch {count}/{stage.epochs}"
