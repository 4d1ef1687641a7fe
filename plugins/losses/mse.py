"""Mean squared error between student and teacher action logits."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.api import DistillLoss


@dataclass
class MSEConfig:
    weight: float = 0.1


class _MSE(nn.Module):
    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def forward(self, out: dict, teacher: dict) -> torch.Tensor:
        return self.weight * F.mse_loss(out["logits"].float(), teacher["logits"].float())


class LogitMSE(DistillLoss):
    name = "mse"
    version = "1"
    description = "MSE between student and teacher action logits"
    Config = MSEConfig

    def build(self, student_dim, teacher_dim):
        return _MSE(self.config.weight)
