"""A control without a teacher: KL towards the uniform distribution at a temperature.

``weight * T^2 * KL(uniform || softmax(z_s / T))``: exactly what ``kl`` computes when the
teacher's logits are all equal. It is a form of label smoothing. When a teacher softened at a
high temperature is almost uniform (``scripts/teacher_entropy.py``), comparing ``kl`` with this
loss at the same weight and temperature separates what the teacher's knowledge adds from what
any softening adds.
"""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.api import DistillLoss


@dataclass
class UniformConfig:
    weight: float = 1.0
    temperature: float = 2.0
    reduction: str = "batchmean"  # batchmean | paper, as for kl


class UniformKL(DistillLoss):
    name = "uniform-kl"
    version = "1"
    description = "KL to a uniform 'teacher' (label-smoothing control, no teacher needed)"
    Config = UniformConfig
    requires_teacher = False

    def build(self, student_dim, teacher_dim):
        from .kl import KLConfig
        from .modules import UniformKLModule

        c = self.config
        if c.reduction not in ("batchmean", "paper"):
            raise ValueError(f"uniform-kl.reduction: expected 'batchmean' or 'paper', got '{c.reduction}'")
        if c.temperature <= 0:
            raise ValueError("uniform-kl.temperature must be positive")
        return UniformKLModule(KLConfig(weight=c.weight, temperature=c.temperature, reduction=c.reduction))
