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
from benchmark.settings import setting

from .config import Reduction


@dataclass
class UniformConfig:
    weight: float = setting(1.0, ge=0.0)
    temperature: float = setting(2.0, gt=0.0)
    reduction: Reduction = "batchmean"  # as for kl


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
        return UniformKLModule(KLConfig(weight=c.weight, temperature=c.temperature, reduction=c.reduction))
