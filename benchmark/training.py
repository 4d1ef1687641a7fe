"""The student training and evaluation loop, on Accelerate (device placement, mixed precision,
gathering across processes)."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from .api import DistillLoss, Student, TeacherOutput
from .errors import NonFiniteLoss


@dataclass
class TrainResult:
    val_scores: np.ndarray  # [N_val, C] float32 logits, in sample order
    epoch_losses: list[float] = field(default_factory=list)
    num_parameters: int = 0


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
        if self.distill is not None and teacher is not None:
            value = value + self.distill(out, teacher)
        return value


def _optimizer(params: list[torch.nn.Parameter], train: dict[str, Any]) -> torch.optim.Optimizer:
    name = train["optimizer"].lower()
    if name == "adamw":
        return torch.optim.AdamW(params, lr=train["lr"], weight_decay=train["weight_decay"])
    if name == "adam":
        return torch.optim.Adam(params, lr=train["lr"], weight_decay=train["weight_decay"])
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=train["lr"], momentum=train["momentum"], weight_decay=train["weight_decay"]
        )
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
) -> TrainResult:
    """Train ``student`` (plus the distillation term) on ``x_train`` and score ``x_val``.

    ``step_train`` ``[N, T]``: per-step action labels for students with ``needs_step_labels``;
    ``member_train`` ``[N, M, C]``: logits of every teacher of an ensemble loss."""
    model = student.build(int(x_train.shape[-1]), num_classes)
    student_dim = int(getattr(model, "feature_dim", 0))
    teacher_dim = None
    if teacher_train is not None and teacher_train.features is not None:
        teacher_dim = int(teacher_train.features.shape[-1])
    distill = loss.build(student_dim, teacher_dim)
    modules = _TrainModule(student, model, distill)
    params = [p for p in modules.parameters() if p.requires_grad]
    optimizer = _optimizer(params, train)
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

    pretrain = int(student.pretrain_epochs())
    stages = ["pretrain"] * pretrain + ["train"] * int(train["epochs"])
    epoch_losses: list[float] = []
    show = progress and accelerator.is_local_main_process
    inner = accelerator.unwrap_model(modules)
    for epoch, stage in enumerate(stages):
        if hasattr(inner.model, "stage") or pretrain:
            inner.model.stage = stage
        modules.train()
        total, count = 0.0, 0
        name = f"pretrain {epoch + 1}/{pretrain}" if stage == "pretrain" else f"epoch {epoch - pretrain + 1}/{train['epochs']}"
        bar = tqdm(train_loader, desc=name, leave=False, disable=None if show else True)
        for step, (x, y, idx, steps) in enumerate(bar):
            batch = None
            if soft_logits is not None and stage == "train":
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
            optimizer.step()
            total += float(value.detach()) * len(y)
            count += len(y)
            if show:
                bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
        mean = total / max(count, 1)
        if not math.isfinite(mean):
            raise NonFiniteLoss(f"mean loss became {mean} at {name}")
        epoch_losses.append(mean)
        log.info("%s loss %.5f", name, mean)

    if hasattr(inner.model, "stage"):
        inner.model.stage = "train"
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
    return TrainResult(out.astype(np.float32), epoch_losses, num_parameters)
