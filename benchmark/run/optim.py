"""The student's optimiser and its base learning rate, from a cell's ``train:`` settings."""
from __future__ import annotations

from typing import Any

import torch


def effective_lr(train: dict[str, Any], num_processes: int) -> float:
    """The base learning rate after ``train.lr_scaling`` (AVT: lr x world size)."""
    return float(train["lr"]) * (num_processes if train.get("lr_scaling", "none") == "world_size" else 1)


def make_optimizer(params: list[torch.nn.Parameter], train: dict[str, Any], lr: float) -> torch.optim.Optimizer:
    name = train["optimizer"].lower()
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=train["weight_decay"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=train["weight_decay"])
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=train["momentum"], weight_decay=train["weight_decay"],
                               nesterov=bool(train.get("nesterov", False)))
    raise ValueError(f"train.optimizer: unknown optimizer '{name}' (adamw, adam, sgd)")
