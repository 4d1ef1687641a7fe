"""The student training and evaluation loop, on Accelerate (device placement, mixed precision,
gathering across processes).

:func:`train_and_evaluate` builds the student and the distillation term, then runs the epochs of
the student's :class:`~benchmark.run.epochs.EpochPlan`: a stage may start a fresh optimiser,
train one branch, or end on its best validation epoch (RULSTM's model selection)."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api import DistillLoss, Student, TeacherOutput, TrainStage
from ..errors import BenchError, NonFiniteLoss
from ..progress import EVALUATION, SILENT, TRAINING, Progress
from ..schedule import lr_factor
from ..scoring import topk_correct
from ..tracking import LossLog, epoch_entry
from . import resume
from .batches import DeviceBatches, Shard, device_budget, nbytes
from .budget import Budget
from .epochs import EpochPlan
from .optim import effective_lr, make_optimizer
from .predict import StepTimes, predict


@dataclass
class TrainData:
    """What a student trains on and is scored on."""

    x_train: np.ndarray  # [N, T, D]
    y_train: np.ndarray  # [N] action ids
    x_val: np.ndarray
    num_classes: int
    #: validation targets, for students whose stages select their best epoch
    y_val: np.ndarray | None = None
    #: ``[N, T]`` per-step action labels, for students with ``needs_step_labels``
    step_train: np.ndarray | None = None
    #: the teacher's soft labels (and features) of the training split
    teacher: TeacherOutput | None = None
    #: ``[N, M, C]`` logits of every teacher of an ensemble loss
    members: np.ndarray | None = None
    #: features of further splits to score with the final model (unlabelled test splits for a
    #: submission), by split name
    x_predict: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class TrainSettings:
    """How to train: the cell's ``train:`` section and the process's surroundings."""

    train: dict[str, Any]
    seed: int
    accelerator: Any
    log: logging.Logger
    #: where the epochs and steps are reported (main process only: the other ranks stay silent)
    progress: Progress = SILENT
    #: limits checked before every step
    budget: Budget | None = None
    #: resume from the newest checkpoint found there; save one every ``checkpoint_every_epochs``
    checkpoint_dir: Path | None = None
    #: one line per epoch (and tracker calls)
    loss_log: LossLog | None = None


@dataclass
class TrainResult:
    val_scores: np.ndarray  # [N_val, C] float32 logits, in sample order
    epoch_losses: list[float] = field(default_factory=list)
    num_parameters: int = 0
    resumed_from_epoch: int = 0  # epochs restored from a checkpoint (0: trained from scratch)
    #: what the optimiser effectively ran with: base lr after ``lr_scaling``, samples per step
    #: over all processes, number of processes
    optimization: dict[str, Any] = field(default_factory=dict)
    #: per stage with model selection: best and last epoch, their validation top-5
    selection: dict[str, Any] = field(default_factory=dict)
    #: validation logits of the last epoch when model selection kept another one
    last_val_scores: np.ndarray | None = None
    #: logits of every split of ``TrainData.x_predict``, from the model the val scores come from
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def train_and_evaluate(student: Student, loss: DistillLoss, data: TrainData, settings: TrainSettings) -> TrainResult:
    """Train ``student`` (plus the distillation term of ``loss``) on ``data.x_train`` and score
    ``data.x_val``."""
    return _Training(student, loss, data, settings).run()


def topk_percent(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Share (%) of rows whose target is among the ``k`` highest scores (RULSTM's selection)."""
    return float(topk_correct(scores, targets, k).mean() * 100.0)


class _TrainModule(torch.nn.Module):
    """Student plus distillation head behind one forward, so data parallelism wraps both."""

    def __init__(self, student: Student, model: torch.nn.Module, distill: torch.nn.Module | None):
        super().__init__()
        self.student = student
        self.model = model
        self.distill = distill
        self.parts: dict[str, torch.Tensor] = {}  # the loss's terms of the last batch, for the loss log

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, teacher: dict | None = None,
                steps: torch.Tensor | None = None):
        out = self.model(x)
        if y is None:
            return out
        if self.student.needs_step_labels:
            value = self.student.own_loss(out, y, steps)
        else:
            value = self.student.own_loss(out, y)
        self.parts = {"own": value.detach()}
        if self.distill is not None and teacher is not None:
            # a teacher-free loss (e.g. uniform-kl) gets an empty dict: {} outside pretraining
            term = self.distill(out, teacher)
            self.parts["distill"] = torch.as_tensor(term).detach()
            value = value + term
        return value


@dataclass
class _EpochSums:
    """Sample-weighted loss sums of one epoch (the total and, when reported, its two terms)."""

    total: float = 0.0
    count: int = 0
    own: Any = None
    distill: Any = None

    def add(self, value: float, n: int, parts: dict[str, torch.Tensor]) -> None:
        self.total += value * n
        self.count += n
        if "own" in parts:
            self.own = parts["own"].float() * n + (0 if self.own is None else self.own)
        if "distill" in parts:
            self.distill = parts["distill"].float() * n + (0 if self.distill is None else self.distill)

    def mean(self, value: Any = None) -> float:
        """The mean loss (of ``value``, a term's sum, when given)."""
        return float(self.total if value is None else value) / max(self.count, 1)


class _Training:
    """One student's training: built in the constructor, run epoch by epoch."""

    def __init__(self, student: Student, loss: DistillLoss, data: TrainData, settings: TrainSettings):
        self.student, self.loss, self.data, self.s = student, loss, data, settings
        self.acc = settings.accelerator
        self._build()
        self.plan = EpochPlan(student.training_stages(int(settings.train["epochs"])))
        self._check_plan()
        self.epoch_losses: list[float] = []
        self.selection: dict[str, Any] = {}
        self.best: dict[str, Any] = {}
        self.last_scores: np.ndarray | None = None
        self.counts: dict[int, int] = {}

    # -- set-up -------------------------------------------------------------------------------

    def _build(self) -> None:
        d, train = self.data, self.s.train
        model = self.student.build(int(d.x_train.shape[-1]), d.num_classes)
        student_dim = int(getattr(model, "feature_dim", 0))  # models without a feature output have none
        teacher_dim = None
        if d.teacher is not None and d.teacher.features is not None:
            teacher_dim = int(d.teacher.features.shape[-1])
        self.distill = self.loss.build(student_dim, teacher_dim)
        modules = _TrainModule(self.student, model, self.distill)
        self.base_lr = effective_lr(train, self.acc.num_processes)
        optimizer = make_optimizer([p for p in modules.parameters() if p.requires_grad], train, self.base_lr)
        self.num_parameters = sum(p.numel() for p in model.parameters())
        self.generator = torch.Generator().manual_seed(self.s.seed)
        if self.compiled:
            model.compile(backend=train.get("compile_backend", "inductor"), dynamic=False)
        self.modules, self.optimizer = self.acc.prepare(modules, optimizer)
        self.inner = self.acc.unwrap_model(self.modules)
        # the rates the schedule scales: the configured ones, also after a resume (a checkpointed
        # optimiser holds the rate of its last step)
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.soft = self._teacher_tensors()
        self.train_loader, self.val_loader = self._batches()
        self.timing = StepTimes()

    def _batches(self) -> tuple[DeviceBatches, DeviceBatches]:
        """The training and validation batches, this rank's shard, on the device (or streamed in
        chunks when they do not fit its share, measured once the model is there)."""
        d, train, acc = self.data, self.s.train, self.acc
        steps = d.step_train if d.step_train is not None else np.full((len(d.y_train), 1), -100, dtype=np.int64)
        tensors = (torch.from_numpy(d.x_train), torch.from_numpy(d.y_train).long(),
                   torch.arange(len(d.y_train)), torch.from_numpy(np.ascontiguousarray(steps)).long())
        val = (torch.from_numpy(d.x_val), torch.arange(len(d.x_val)))
        shard = Shard(acc.process_index, acc.num_processes)
        budget = device_budget(acc.device, float(train.get("device_memory_mb", 0) or 0))
        batches = DeviceBatches(tensors, train["batch_size"], self.generator, acc.device, shard, budget,
                                drop_last=self.compiled)
        if budget is not None:
            budget = max(budget - (nbytes(tensors) if batches.resident else 0), 0)
        val_batches = DeviceBatches(val, train["eval_batch_size"], None, acc.device, shard, budget)
        if budget is not None:
            self.s.log.info("inputs: training %s, validation %s", batches.path, val_batches.path)
        return batches, val_batches

    def _teacher_tensors(self) -> dict[str, torch.Tensor]:
        """The teacher's training-split outputs on the device, indexed by sample (none without a
        teacher or a distillation term)."""
        d, device = self.data, self.acc.device
        if d.teacher is None or self.distill is None:
            return {}
        out = {"logits": torch.from_numpy(d.teacher.logits).to(device)}
        if d.teacher.features is not None:
            out["features"] = torch.from_numpy(d.teacher.features).to(device)
        if d.members is not None:
            out["members"] = torch.from_numpy(d.members).to(device)
        return out

    def _check_plan(self) -> None:
        name = self.student.name
        if self.plan.staged and self.acc.num_processes > 1:
            raise BenchError(f"student {name}: training in stages (fresh optimisers, branches, model "
                             "selection) runs on one process; use one GPU or the inline launcher")
        if self.plan.staged and (self.data.y_val is None or len(self.data.y_val) != len(self.data.x_val)):
            raise BenchError(f"student {name}: model selection needs the validation targets")

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        start = self._resume()
        epochs = len(self.plan.per_epoch)
        self.progress.start(TRAINING, (epochs - start) * len(self.train_loader))
        for epoch in range(start, epochs):
            self._epoch(epoch)
        return self._result(start)

    @property
    def compiled(self) -> bool:
        return bool(self.s.train.get("compile"))

    @property
    def progress(self) -> Progress:
        return self.s.progress if self.acc.is_main_process else SILENT

    def _resume(self) -> int:
        """Epochs restored from a checkpoint (0 for none, and always 0 for staged training)."""
        s, start = self.s, 0
        self.every = int(s.train.get("checkpoint_every_epochs", 0) or 0)
        if self.plan.staged and self.every:
            s.log.warning("student %s trains in stages: no checkpoints (a crash restarts the cell)", self.student.name)
            self.every = 0
        if s.checkpoint_dir is not None and not self.plan.staged:
            start, self.epoch_losses = resume.resume(s.checkpoint_dir, self.inner, self.optimizer, self.generator,
                                                     self.acc, self.plan.names, s.log)
        if s.loss_log is not None:
            s.loss_log.begin(start)
        return start

    def _epoch(self, epoch: int) -> None:
        k, stage = self.plan.per_epoch[epoch]
        self.counts[k] = self.counts.get(k, 0) + 1
        if epoch == self.plan.first_epoch[k]:
            self._begin_stage(stage)
        if hasattr(self.inner.model, "stage") or stage.mode == "pretrain":
            self.inner.model.stage = stage.mode
        name = self.plan.epoch_name(stage, self.counts[k])
        self.progress.detail(f"{name} ({epoch + 1}/{len(self.plan.per_epoch)})" if self.plan.staged
                             else f"epoch {epoch + 1}/{len(self.plan.per_epoch)}")
        tic = time.perf_counter()
        sums = self._train_epoch(epoch, k, stage, name)
        mean = sums.mean()
        if not math.isfinite(mean):
            raise NonFiniteLoss(f"mean loss became {mean} at {name}")
        self.epoch_losses.append(mean)
        self.s.log.info("%s loss %.5f", name, mean)
        if self.s.loss_log is not None:
            steps = len(self.train_loader)
            self.s.loss_log.epoch(epoch_entry(
                epoch + 1, stage.name, (epoch + 1) * steps, mean,
                None if sums.own is None else sums.mean(sums.own),
                None if sums.distill is None else sums.mean(sums.distill),
                float(self.optimizer.param_groups[0]["lr"]), time.perf_counter() - tic,
            ))
        if stage.select_best:
            self._select(stage, self.counts[k], name)
        self._maybe_checkpoint(epoch)

    def _begin_stage(self, stage: TrainStage) -> None:
        if self.plan.staged:
            self.inner.model.branch = stage.branch
        if stage.fresh_optimizer:
            params = self.student.stage_parameters(self.inner.model, stage)
            if self.inner.distill is not None:
                params += [p for p in self.inner.distill.parameters() if p.requires_grad]
            self.optimizer = self.acc.prepare(make_optimizer(params, self.s.train, self.base_lr))
            self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.best = {"top5": -1.0}

    def _train_epoch(self, epoch: int, k: int, stage: TrainStage, name: str) -> _EpochSums:
        s, train = self.s, self.s.train
        self.modules.train()
        sums = _EpochSums()
        steps_per_epoch = len(self.train_loader)
        schedule = {"steps_per_epoch": steps_per_epoch, "epochs": self.plan.span_epochs[k],
                    "warmup_epochs": int(train.get("warmup_epochs", 0)), "schedule": train.get("schedule", "constant")}
        span_offset = self.plan.first_epoch[self.plan.span_start[k]]
        for step, (x, y, idx, steps) in enumerate(self.progress.iterate(self.train_loader)):
            if s.budget is not None:
                s.budget.check()
            tic = time.perf_counter()
            with self.acc.autocast():
                value = self.modules(x, y, self._teacher_batch(idx, stage.mode == "train"), steps)
            if not torch.isfinite(value):
                raise NonFiniteLoss(f"loss became {value.item()} at {name}, step {step + 1}")
            self.optimizer.zero_grad(set_to_none=True)
            self.acc.backward(value)
            if train["grad_clip"] > 0:
                self.acc.clip_grad_norm_(self.modules.parameters(), train["grad_clip"])
            factor = lr_factor((epoch - span_offset) * steps_per_epoch + step, **schedule)
            for group, lr in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = lr * factor
            self.optimizer.step()
            current = float(value.detach())  # waits for the step: the time below is the step's
            self.timing.add(time.perf_counter() - tic)
            sums.add(current, len(y), self.inner.parts)
            if s.loss_log is not None:
                s.loss_log.step(epoch * steps_per_epoch + step + 1, current)
        return sums

    def _teacher_batch(self, idx: torch.Tensor, training: bool) -> dict[str, torch.Tensor] | None:
        """What the distillation term gets for a batch: the teacher's rows, ``{}`` for a loss that
        needs no teacher, None outside training (pretraining) or without a term."""
        if not training or self.distill is None:
            return None
        if self.soft:
            return {key: tensor[idx] for key, tensor in self.soft.items()}
        return None if self.loss.requires_teacher else {}

    def _select(self, stage: TrainStage, count: int, name: str) -> None:
        """Model selection: keep the epoch of best validation top-5; the stage ends on it."""
        scores = predict(self.modules, self.val_loader, self.acc, fixed=self.compiled)
        top5 = topk_percent(scores, self.data.y_val, 5)
        self.s.log.info("%s validation top-5 %.2f", name, top5)
        if top5 > self.best["top5"]:
            self.best = {"top5": top5, "epoch": count, "scores": scores,
                         "state": {n: v.detach().clone() for n, v in self.inner.state_dict().items()}}
        if count == stage.epochs:
            self.selection[stage.name] = {"best_epoch": self.best["epoch"], "best_top5": round(self.best["top5"], 4),
                                          "last_top5": round(top5, 4), "epochs": stage.epochs}
            self.last_scores = scores
            self.inner.load_state_dict(self.best["state"])

    def _maybe_checkpoint(self, epoch: int) -> None:
        s, total = self.s, len(self.plan.per_epoch)
        if s.checkpoint_dir is None or self.every <= 0 or (epoch + 1) % self.every or epoch + 1 >= total:
            return
        resume.save(s.checkpoint_dir, epoch + 1, self.inner, self.optimizer, self.generator, self.acc,
                    self.plan.names, self.epoch_losses)
        s.log.info("checkpoint saved after epoch %d of %d", epoch + 1, total)

    def _result(self, start: int) -> TrainResult:
        if hasattr(self.inner.model, "stage"):
            self.inner.model.stage = "train"
        if self.plan.staged:
            self.inner.model.branch = ""
        final, last = self.plan.stages[-1], self.last_scores
        if final.select_best and final.mode == "train" and not final.branch:
            out = self.best["scores"]  # the selected epoch's predictions, already computed
        else:
            self.progress.start(EVALUATION, len(self.val_loader), unit="batch")
            out = predict(self.modules, self.val_loader, self.acc, self.progress, fixed=self.compiled)
            last = None if not final.select_best else last
        n = self.acc.num_processes
        optimization = {"effective_lr": self.base_lr, "global_batch": int(self.s.train["batch_size"]) * n,
                        "processes": n, "steps_per_epoch": len(self.train_loader), **self.timing.summary()}
        if self.compiled:
            optimization["compile"] = {"backend": self.s.train.get("compile_backend", "inductor"),
                                       "warmup_s": self.timing.warmup_s()}
        return TrainResult(out.astype(np.float32), self.epoch_losses, self.num_parameters, start, optimization,
                           self.selection, None if last is None else last.astype(np.float32),
                           {split: self._scores(x) for split, x in self.data.x_predict.items()})

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """Logits of the final model on ``x``, batched as validation."""
        budget = device_budget(self.acc.device, float(self.s.train.get("device_memory_mb", 0) or 0))
        batches = DeviceBatches((torch.from_numpy(x), torch.arange(len(x))), self.s.train["eval_batch_size"], None,
                                self.acc.device, Shard(self.acc.process_index, self.acc.num_processes), budget)
        return predict(self.modules, batches, self.acc, fixed=self.compiled).astype(np.float32)
