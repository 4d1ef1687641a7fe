"""Feature alignment: the student's aggregated feature, projected to the teacher's width, is
pulled towards the teacher's pooled feature.

``weight * d(P(f_s), f_t)`` with ``P`` a learned projection (linear, or a 2-layer MLP when
``hidden > 0``) trained with the student, and ``d`` one of

  * ``cosine``: ``1 - cos(P(f_s), f_t)``, averaged over the batch (0 aligned, 2 opposite);
  * ``nmse``: the mean squared error between the L2-normalised vectors, averaged over batch x
    feature dimensions. Since ``|u - v|^2 = 2 - 2 cos(u, v)`` for unit vectors, this is
    ``2 / D_t`` times ``cosine``: the same direction of gradient at a D_t/2 smaller scale.

The teacher feature is a fixed target: no gradient reaches it.
"""
from __future__ import annotations


from benchmark.api import DistillLoss
from benchmark.errors import ConfigError

from .config import FeatConfig


class FeatDistill(DistillLoss):
    name = "feat"
    version = "1"
    description = "cosine / normalised-MSE alignment of the projected student feature to the teacher's"
    requires_teacher_features = True
    Config = FeatConfig

    def build(self, student_dim, teacher_dim):
        c = self.config
        if teacher_dim is None:
            raise ConfigError("feat: the teacher provides no features (use a teacher with provides_features)")
        if not student_dim or student_dim <= 0:
            raise ConfigError("feat: the student's model reports no feature_dim (needs a feature output)")
        from .modules import FeatModule

        return FeatModule(c, int(student_dim), int(teacher_dim))
