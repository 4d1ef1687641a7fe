"""Distillation from several teachers at once: the cell's teacher plus ``teachers`` (aliases or
names the runner fits and caches too).

The target is a mixture of the members' softened distributions, built in probability space at
temperature T: ``p_bar = sum_m w_m softmax(z_m / T)``; the loss is
``weight * T^2 * KL(p_bar || softmax(z_s / T))`` with ``top_k`` and ``reduction`` as in ``kl``
(``top_k`` keeps the k classes the mixture ranks highest, renormalised).

  * ``mean``: ``w_m = 1 / M`` for every sample.
  * ``attention``: ``w = softmax(scorer(f_s))`` per sample, from a learned linear scorer on the
    student's aggregated feature (detached: the scorer learns to route between teachers, the
    student's feature is trained by its own loss and the KL on its logits). The weights are
    not detached, so the scorer is trained through the KL.

Without ``members`` in the teacher batch (no extra teachers) the mixture is the cell's teacher
alone, and the loss equals ``kl`` with the same settings.
"""
from __future__ import annotations


from benchmark.api import DistillLoss
from benchmark.errors import ConfigError

from .config import EnsembleConfig


class EnsembleDistill(DistillLoss):
    name = "ensemble"
    version = "1"
    description = "T^2-scaled KL to a (mean or attention-weighted) mixture of several teachers"
    Config = EnsembleConfig

    def member_teachers(self) -> list[str]:
        return list(self.config.teachers)

    def build(self, student_dim, teacher_dim):
        c = self.config
        if c.mode == "attention" and (not student_dim or student_dim <= 0):
            raise ConfigError("ensemble.mode 'attention': the student's model reports no feature_dim")
        from .modules import EnsembleModule

        return EnsembleModule(c, int(student_dim or 0), 1 + len(c.teachers))
