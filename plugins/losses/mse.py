"""Mean squared error between student and teacher action logits."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.api import DistillLoss
from benchmark.settings import setting


@dataclass
class MSEConfig:
    weight: float = setting(0.1, ge=0.0)


class LogitMSE(DistillLoss):
    name = "mse"
    version = "1"
    description = "MSE between student and teacher action logits"
    Config = MSEConfig

    def build(self, student_dim, teacher_dim):
        from .modules import MSEModule

        return MSEModule(self.config.weight)
