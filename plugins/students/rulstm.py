"""RULSTM: rolling-unrolling LSTMs (Furnari & Farinella, ICCV 2019 / TPAMI 2020) as a student.

A rolling LSTM encodes the observed steps one by one. At each anticipation step ``i`` an
unrolling LSTM starts from the rolling state ``(h, c)`` after step ``i`` and is fed the step-``i``
feature repeated until the action start; a classifier on its last hidden state predicts the
action from step ``i``. Every anticipation step is trained on the same target (the reference's
loss), and the step at start - tau_a (``anticipation_index``) is the one scored and distilled.

**Unroll length.** The prediction at step ``i`` of ``T`` given steps reads
``(T - 1 - i) + unroll_extra + 1`` inputs: the step itself, then one per step spacing up to the
action start, where ``unroll_extra`` is the number of spacings between the last given step and
the start. With RULSTM-style sampling the last step lies one spacing (alpha) before the start,
so the default ``unroll_extra = 1`` gives the reference's ``T - i + 1`` exactly. With AVT-style
sampling (no steps after start - tau_a, ``anticipation_index = T - 1``) the last step lies tau_a
before the start: set ``unroll_extra`` to ``ceil(tau_a / step)`` (2 for EPIC-55's 1 s at 2 fps;
the default 1 fits EGTEA's 0.5 s at 1 fps). The student cannot tell the two samplings apart from
its input alone (RULSTM sampling with tau_a = alpha also has no later steps), hence the setting.

**Sequence completion pretraining.** For :meth:`pretrain_epochs` epochs the loop sets
``model.stage = "pretrain"``; the unrolling LSTM at step ``i`` then reads the true features of
steps ``i, i+1, ...`` (the last given step repeated for the ``unroll_extra`` spacings no feature
covers, so both stages unroll equally far). In the ``train`` stage the prediction at step ``i``
never reads a step after ``i``. With ``stages: joint`` (the CPU preset) the same model and
optimiser go on; ``stages: reference`` (``rulstm-paper``) restarts from the selected completion
weights with a fresh optimiser, as the reference does.

**MATT.** With several modalities in the feature layout, one rolling/unrolling branch runs per
modality on its columns, and an MLP over the concatenated ``[unrolled h, rolling c]`` of every
branch gives softmax weights that fuse the branch scores per step. ``stages: reference`` trains
as RULSTM's ``train_anticipation_ek55.sh``: per branch a sequence-completion run and an
anticipation run, then MATT with every parameter over the trained branches, each run a fresh
SGD and each ending on its epoch of best validation top-5 at the scored step (``main.py``,
``trainval``); ``stages: joint`` trains everything in one run (sequence completion covering every
branch at once).
"""
from __future__ import annotations

from typing import Any, ClassVar

from benchmark.api import Student, TrainStage
from benchmark.errors import ConfigError

from .config import RULSTMConfig, RULSTMPaperConfig


class RULSTMStudent(Student):
    name = "rulstm"
    version = "1"
    description = "rolling-unrolling LSTMs with sequence-completion pretraining and MATT fusion (small preset)"
    Config = RULSTMConfig
    uses_future_steps = True

    def branches(self, input_dim: int) -> dict[str, tuple[int, int]]:
        """Column range of each branch: the chosen modalities of the layout, or all columns."""
        info = self.input_info or {}
        layout = self.feature_layout or info.get("layout") or {}
        wanted = list(self.config.modalities) or list(layout)
        where = f"components.student.{self.name}.modalities"
        missing = self._absent(wanted, layout)
        if missing:
            raise ConfigError(f"{where}: {missing} not in the feature layout {sorted(layout)}")
        if not wanted or (len(wanted) == 1 and not self.config.modalities):
            return {wanted[0] if wanted else "all": (0, input_dim)}  # one branch over every column
        out = {}
        for m in wanted:
            lo, hi = (int(v) for v in layout[m])
            if not 0 <= lo < hi <= input_dim:
                raise ConfigError(f"{where}: layout of '{m}' {[lo, hi]} is outside the {input_dim} feature columns")
            out[m] = (lo, hi)
        return out

    @staticmethod
    def _absent(modalities: list[str], layout: dict[str, Any]) -> list[str]:
        """The branches the features' layout lacks."""
        return [m for m in modalities if m not in layout]

    def input_problem(self, info: dict[str, Any]) -> str | None:
        layout = info.get("layout") or {}
        missing = self._absent(list(self.config.modalities), layout)
        if missing:
            return f"student {self.name}: branches {missing} are not in the feature layout {sorted(layout)}"
        return None

    def build(self, input_dim: int, num_classes: int) -> Any:
        from .rulstm_model import RULSTMNet

        return RULSTMNet(self.branches(input_dim), num_classes, self.config, self.anticipation_index, self.name)

    def pretrain_epochs(self) -> int:
        return int(self.config.sc_epochs)

    def training_stages(self, epochs: int) -> list[TrainStage]:
        c = self.config
        if c.stages == "joint":
            return super().training_stages(epochs)
        names = list(c.modalities) or list(self.feature_layout or {}) or [""]
        branches = names if len(names) > 1 else [""]  # one branch: it is the whole network
        plan = []
        for b in branches:
            tag = f":{b}" if b else ""
            plan.append(TrainStage(f"sc{tag}", c.sc_epochs, mode="pretrain", branch=b, fresh_optimizer=True,
                                   select_best=True))
            plan.append(TrainStage(f"anticipation{tag}", epochs, branch=b, fresh_optimizer=True, select_best=True))
        if len(branches) > 1:
            plan.append(TrainStage("matt", c.fusion_epochs or epochs, fresh_optimizer=True, select_best=True))
        return plan

    def stage_parameters(self, model: Any, stage: TrainStage) -> list[Any]:
        return [p for p in model.branch_modules(stage.branch).parameters() if p.requires_grad]

    def own_loss(self, output: dict, targets: Any, step_targets: Any = None) -> Any:
        """Cross-entropy averaged over the predictions of every anticipation step."""
        import torch.nn.functional as F

        scores = output["all_logits"].float()
        n = scores.shape[1]
        return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), targets.repeat_interleave(n))


class RULSTMPaperStudent(RULSTMStudent):
    name = "rulstm-paper"
    description = "RULSTM with the published sizes and optimiser (hidden 1024, dropout 0.8, SGD)"
    Config = RULSTMPaperConfig
    #: ``RULSTM/main.py`` defaults; 100 epochs for each of the sequence-completion and
    #: anticipation runs of ``scripts/train_anticipation_ek55.sh``
    train_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "batch_size": 128, "epochs": 100,
    }
