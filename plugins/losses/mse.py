"""Mean squared error between student and teacher action logits."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.api import DistillLoss


@dataclass
class MSEConfig:
    weight: float = 0.1


class LogitMSE(DistillLoss):
    name = "mse"
    version = "1"
    description = "MSE between student and teacher action logits"
    Config = MSEConfig

    def build(self, student_dim, teacher_dim):
        from .modules import MSEModule

        return MSEModule(self.config.weight)
