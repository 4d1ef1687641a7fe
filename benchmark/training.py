"""The student training and evaluation loop, on Accelerate (device placement, mixed precision,
gathering across processes)."""
from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from . import checkpoint
from .api import DistillLoss, Student, TeacherOutput
from .errors import BenchError, NonFiniteLoss
from .schedule import lr_factor
from .scoring import topk_correct
from .tracking import LossLog, epoch_entry


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


class BudgetExceeded(BenchError):
    """A cell went over its ``train.time_budget_s`` or ``train.memory_budget_mb``."""


def reset_peak_rss() -> bool:
    """Restart the peak-resident-memory counter of this process (Linux); False where impossible,
    and the peak then covers the whole process lifetime."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (since the last :func:`reset_peak_rss`)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    import resource  # POSIX only

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


@dataclass
class Budget:
    """Time and memory limits of one cell (0 = none), checked between training steps."""

    time_s: float = 0.0
    memory_mb: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def check(self) -> None:
        if self.time_s > 0:
            elapsed = time.perf_counter() - self.started
            if elapsed > self.time_s:
                raise BudgetExceeded(f"time budget exceeded ({elapsed:.2f} s > {self.time_s:g} s)")
        if self.memory_mb > 0:
            peak = peak_rss_mb()
            if peak > self.memory_mb:
                raise BudgetExceeded(
                    f"memory budget exceeded ({peak:.0f} MB > {self.memory_mb:g} MB peak resident memory)"
                )


class _TrainModule(torch.nn.Module):
    """Student plus distillation head behind one forward, so data parallelism wraps both."""

    def __init__(self, student: Student, model: torch.nn.Module, distill: torch.nn.Module | None):
        super().__init__()
        self.student = student
        self.model = model
        self.distill = distill

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, teacher: dict | None = None,
                steps: torch.Tensor | None = None):
        out = self.model(x)
        if y is None:
            return out
        if self.student.needs_step_labels:
            value = self.student.own_loss(out, y, steps)
        else:
            value = self.student.own_loss(out, y)
        self.parts = {"own": value.detach()}  # for the loss log
        if self.distill is not None and teacher is not None:
            # a teacher-free loss (e.g. uniform-kl) gets an empty dict: {} outside pretraining
            term = self.distill(out, teacher)
            self.parts["distill"] = torch.as_tensor(term).detach()
            value = value + term
        return value


def effective_lr(train: dict[str, Any], num_processes: int) -> float:
    """The base learning rate after ``train.lr_scaling`` (AVT: lr x world size)."""
    return float(train["lr"]) * (num_processes if train.get("lr_scaling", "none") == "world_size" else 1)


def _optimizer(params: list[torch.nn.Parameter], train: dict[str, Any], lr: float) -> torch.optim.Optimizer:
    name = train["optimizer"].lower()
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=train["weight_decay"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=train["weight_decay"])
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=train["momentum"], weight_decay=train["weight_decay"],
                               nesterov=bool(train.get("nesterov", False)))
    raise ValueError(f"train.optimizer: unknown optimizer '{name}' (adamw, adam, sgd)")


def train_and_evaluate(
    student: Student,
    loss: DistillLoss,
    train: dict[str, Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    teacher_train: TeacherOutput | None,
    num_classes: int,
    seed: int,
    accelerator: Any,
    log: logging.Logger,
    progress: bool = True,
    step_train: np.ndarray | None = None,
    member_train: np.ndarray | None = None,
    budget: Budget | None = None,
    checkpoint_dir: Path | None = None,
    loss_log: LossLog | None = None,
    y_val: np.ndarray | None = None,
) -> TrainResult:
    """Train ``student`` (plus the distillation term) on ``x_train`` and score ``x_val``.

    ``step_train`` ``[N, T]``: per-step action labels for students with ``needs_step_labels``;
    ``member_train`` ``[N, M, C]``: logits of every teacher of an ensemble loss; ``budget``:
    limits checked before every step; ``checkpoint_dir``: resume from the newest checkpoint found
    there, and save one every ``train["checkpoint_every_epochs"]`` epochs; ``loss_log``: one
    line per epoch (and tracker calls); ``y_val``: validation targets, for students whose stages
    select their best epoch."""
    model = student.build(int(x_train.shape[-1]), num_classes)
    student_dim = int(getattr(model, "feature_dim", 0))
    teacher_dim = None
    if teacher_train is not None and teacher_train.features is not None:
        teacher_dim = int(teacher_train.features.shape[-1])
    distill = loss.build(student_dim, teacher_dim)
    modules = _TrainModule(student, model, distill)
    params = [p for p in modules.parameters() if p.requires_grad]
    base_lr = effective_lr(train, accelerator.num_processes)
    optimizer = _optimizer(params, train, base_lr)
    num_parameters = sum(p.numel() for p in model.parameters())

    generator = torch.Generator().manual_seed(seed)
    index = torch.arange(len(y_train))
    if step_train is None:
        step_train = np.full((len(y_train), 1), -100, dtype=np.int64)
    train_loader = DataLoader(
        TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train).long(), index,
                      torch.from_numpy(np.ascontiguousarray(step_train)).long()),
        batch_size=train["batch_size"],
        shuffle=True,
        generator=generator,
    )
    val_loader = DataLoader(
        TensorDataset(torch.from_numpy(x_val), torch.arange(len(x_val))),
        batch_size=train["eval_batch_size"],
        shuffle=False,
    )
    modules, optimizer, train_loader, val_loader = accelerator.prepare(
        modules, optimizer, train_loader, val_loader
    )
    soft_logits = soft_features = soft_members = None
    if teacher_train is not None and distill is not None:
        soft_logits = torch.from_numpy(teacher_train.logits).to(accelerator.device)
        if teacher_train.features is not None:
            soft_features = torch.from_numpy(teacher_train.features).to(accelerator.device)
        if member_train is not None:
            soft_members = torch.from_numpy(member_train).to(accelerator.device)

    plan = [st for st in student.training_stages(int(train["epochs"])) if st.epochs > 0]
    per_epoch = [(k, st) for k, st in enumerate(plan) for _ in range(st.epochs)]
    stages = [st.name for _, st in per_epoch]  # one name per epoch (checkpoints compare them)
    staged = any(st.fresh_optimizer or st.select_best or st.branch for st in plan)
    if staged and accelerator.num_processes > 1:
        raise BenchError(f"student {student.name}: training in stages (fresh optimisers, branches, model "
                         "selection) runs on one process; use one GPU or the inline launcher")
    if staged and (y_val is None or len(y_val) != len(x_val)):
        raise BenchError(f"student {student.name}: model selection needs the validation targets")
    epoch_losses: list[float] = []
    show = progress and accelerator.is_local_main_process
    inner = accelerator.unwrap_model(modules)
    start = 0
    every = int(train.get("checkpoint_every_epochs", 0) or 0)
    if staged and every:
        log.warning("student %s trains in stages: no checkpoints (a crash restarts the cell)", student.name)
        every = 0
    if checkpoint_dir is not None and not staged:
        start, epoch_losses = _resume(checkpoint_dir, inner, optimizer, generator, accelerator, stages, log)
        if start and hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(start)
    if loss_log is not None:
        loss_log.begin(start)
    steps_per_epoch = len(train_loader)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    # an optimiser's schedule spans the epochs up to the next stage that starts a fresh one
    span_start = {k: (k if st.fresh_optimizer or k == 0 else None) for k, st in enumerate(plan)}
    for k in range(1, len(plan)):
        span_start[k] = k if span_start[k] is not None else span_start[k - 1]
    first_epoch = {k: sum(st.epochs for st in plan[:k]) for k in range(len(plan))}
    span_epochs = {k: sum(plan[j].epochs for j in range(len(plan)) if span_start[j] == span_start[k])
                   for k in range(len(plan))}
    selection: dict[str, Any] = {}
    best: dict[str, Any] = {}
    last_scores: np.ndarray | None = None
    counts = {}
    for epoch in range(start, len(stages)):
        k, stage = per_epoch[epoch]
        counts[k] = counts.get(k, 0) + 1
        if epoch == first_epoch[k]:
            if staged:
                inner.model.branch = stage.branch
            if stage.fresh_optimizer:
                params = student.stage_parameters(inner.model, stage)
                if inner.distill is not None:
                    params += [p for p in inner.distill.parameters() if p.requires_grad]
                optimizer = accelerator.prepare(_optimizer(params, train, base_lr))
                base_lrs = [group["lr"] for group in optimizer.param_groups]
            best = {"top5": -1.0}
        if hasattr(inner.model, "stage") or stage.mode == "pretrain":
            inner.model.stage = stage.mode
        modules.train()
        total, count = 0.0, 0
        own_sum = distill_sum = None
        tic = time.perf_counter()
        name = f"{stage.name} {counts[k]}/{stage.epochs}"
        if not staged:  # the names the loss log has always used
            name = f"pretrain {counts[k]}/{stage.epochs}" if stage.mode == "pretrain" else f"epoch {counts[k]}/{stage.epochs}"
        training = stage.mode == "train"
        schedule = {"steps_per_epoch": steps_per_epoch, "epochs": span_epochs[k],
                    "warmup_epochs": int(train.get("warmup_epochs", 0)), "schedule": train.get("schedule", "constant")}
        span_offset = first_epoch[span_start[k]]
        bar = tqdm(train_loader, desc=name, leave=False, disable=None if show else True)
        for step, (x, y, idx, steps) in enumerate(bar):
            if budget is not None:
                budget.check()
            batch = None
            if distill is not None and training and not loss.requires_teacher:
                batch = {}
            if soft_logits is not None and training:
                batch = {"logits": soft_logits[idx]}
                if soft_features is not None:
                    batch["features"] = soft_features[idx]
                if soft_members is not None:
                    batch["members"] = soft_members[idx]
            with accelerator.autocast():
                value = modules(x, y, batch, steps)
            if not torch.isfinite(value):
                raise NonFiniteLoss(f"loss became {value.item()} at {name}, step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(value)
            if train["grad_clip"] > 0:
                accelerator.clip_grad_norm_(modules.parameters(), train["grad_clip"])
            factor = lr_factor((epoch - span_offset) * steps_per_epoch + step, **schedule)
            for group, lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr * factor
            optimizer.step()
            current = float(value.detach())
            total += current * len(y)
            count += len(y)
            parts = getattr(inner, "parts", {})
            if "own" in parts:
                own_sum = parts["own"].float() * len(y) + (0 if own_sum is None else own_sum)
            if "distill" in parts:
                distill_sum = parts["distill"].float() * len(y) + (0 if distill_sum is None else distill_sum)
            if loss_log is not None:
                loss_log.step(epoch * steps_per_epoch + step + 1, current)
            if show:
                bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
        mean = total / max(count, 1)
        if not math.isfinite(mean):
            raise NonFiniteLoss(f"mean loss became {mean} at {name}")
        epoch_losses.append(mean)
        log.info("%s loss %.5f", name, mean)
        if loss_log is not None:
            loss_log.epoch(epoch_entry(
                epoch + 1, stage.name, (epoch + 1) * steps_per_epoch, mean,
                None if own_sum is None else float(own_sum) / max(count, 1),
                None if distill_sum is None else float(distill_sum) / max(count, 1),
                float(optimizer.param_groups[0]["lr"]), time.perf_counter() - tic,
            ))
        if stage.select_best:
            scores = _predict(modules, val_loader, accelerator)
            top5 = topk_percent(scores, y_val, 5)
            log.info("%s validation top-5 %.2f", name, top5)
            if top5 > best["top5"]:
                best = {"top5": top5, "epoch": counts[k], "scores": scores,
                        "state": {n: v.detach().clone() for n, v in inner.state_dict().items()}}
            if counts[k] == stage.epochs:  # the stage ends on its best epoch
                selection[stage.name] = {"best_epoch": best["epoch"], "best_top5": round(best["top5"], 4),
                                         "last_top5": round(top5, 4), "epochs": stage.epochs}
                last_scores = scores
                inner.load_state_dict(best["state"])
        if checkpoint_dir is not None and every > 0 and (epoch + 1) % every == 0 and epoch + 1 < len(stages):
            _save_checkpoint(checkpoint_dir, epoch + 1, inner, optimizer, generator, accelerator, stages,
                             epoch_losses)
            log.info("checkpoint saved after epoch %d of %d", epoch + 1, len(stages))

    if hasattr(inner.model, "stage"):
        inner.model.stage = "train"
    if staged:
        inner.model.branch = ""
    final = plan[-1]
    if final.select_best and final.mode == "train" and not final.branch:
        out = best["scores"]  # the selected epoch's predictions, already computed
    else:
        out = _predict(modules, val_loader, accelerator)
        last_scores = None if not final.select_best else last_scores
    optimization = {"effective_lr": base_lr, "global_batch": int(train["batch_size"]) * accelerator.num_processes,
                    "processes": accelerator.num_processes, "steps_per_epoch": steps_per_epoch}
    return TrainResult(out.astype(np.float32), epoch_losses, num_parameters, start, optimization,
                       selection, None if last_scores is None else last_scores.astype(np.float32))


def topk_percent(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Share (%) of rows whose target is among the ``k`` highest scores (RULSTM's selection)."""
    return float(topk_correct(scores, targets, k).mean() * 100.0)


def _predict(modules: Any, val_loader: Any, accelerator: Any) -> np.ndarray:
    """Validation logits ``[N, C]`` in sample order (gathered across processes)."""
    modules.eval()
    chunks, order = [], []
    with torch.no_grad():
        for x, idx in val_loader:
            with accelerator.autocast():
                logits = modules(x)["logits"].float()
            logits, idx = accelerator.gather_for_metrics((logits, idx))
            chunks.append(logits.cpu())
            order.append(idx.cpu())
    scores = torch.cat(chunks).numpy()
    positions = torch.cat(order).numpy()
    out = np.empty_like(scores)
    out[positions] = scores
    return out


def _save_checkpoint(folder: Path, epoch: int, inner: torch.nn.Module, optimizer: Any, generator: torch.Generator,
                     accelerator: Any, stages: list[str], epoch_losses: list[float]) -> None:
    """Model + distillation head, optimizer, RNG states and losses after ``epoch`` epochs."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        tensors = {f"module/{k}": v for k, v in inner.state_dict().items()}
        opt_tensors, opt_state = checkpoint.pack_optimizer(optimizer.state_dict())
        rng_tensors, rng_plain = checkpoint.rng_state(generator)
        scaler = getattr(accelerator, "scaler", None)
        state = {"stages": stages, "epoch_losses": epoch_losses, "optimizer": opt_state, "rng": rng_plain,
                 "scaler": scaler.state_dict() if scaler is not None else None}
        checkpoint.save(folder, epoch, {**tensors, **opt_tensors, **rng_tensors}, state)
    accelerator.wait_for_everyone()


def _resume(folder: Path, inner: torch.nn.Module, optimizer: Any, generator: torch.Generator, accelerator: Any,
            stages: list[str], log: logging.Logger) -> tuple[int, list[float]]:
    """Load the newest usable checkpoint; (epochs done, their losses), or (0, []) for none."""
    ckpt = checkpoint.latest(folder)
    if ckpt is None:
        return 0, []
    state = ckpt.state
    if state.get("stages") != stages or not 0 < ckpt.epoch < len(stages):
        log.warning("ignoring checkpoint %s: it was saved for another epoch schedule", ckpt.path)
        return 0, []
    saved = {k[len("module/"):]: v for k, v in ckpt.tensors.items() if k.startswith("module/")}
    current = inner.state_dict()
    if set(saved) != set(current) or any(saved[k].shape != current[k].shape for k in current):
        log.warning("ignoring checkpoint %s: its tensors do not match the model", ckpt.path)
        return 0, []
    inner.load_state_dict(saved)
    optimizer.load_state_dict(checkpoint.unpack_optimizer(ckpt.tensors, state["optimizer"]))
    scaler = getattr(accelerator, "scaler", None)
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    checkpoint.restore_rng(ckpt.tensors, state["rng"], generator)
    log.info("resuming from checkpoint after epoch %d of %d: continuing at epoch %d",
             ckpt.epoch, len(stages), ckpt.epoch + 1)
    return ckpt.epoch, [float(v) for v in state.get("epoch_losses", [])][: ckpt.epoch]
