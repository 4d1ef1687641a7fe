"""The CE-only baseline: nothing is added to the student's own loss."""
from __future__ import annotations

from benchmark.api import DistillLoss


class NoDistill(DistillLoss):
    name = "none"
    version = "1"
    description = "student's own loss only (no distillation)"
    requires_teacher = False
    adds_nothing = True

    def build(self, student_dim, teacher_dim):
        return None
