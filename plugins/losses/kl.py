"""Temperature-scaled KL distillation towards the teacher's soft labels.

``weight * T^2 * KL(softmax(z_t / T) || softmax(z_s / T))`` on the anticipated-action logits.

Reductions:
  * ``batchmean``: KL summed over classes, averaged over the batch (the textbook form).
  * ``paper``: the element-wise KL averaged over batch x classes, as in the authors' code
    (``torch.mean`` of ``KLDivLoss(reduction='none')``). With C classes kept,
    ``paper`` at weight w equals ``batchmean`` at weight w / C: the paper's EGTEA setting
    (w=150, T=10, all 106 classes) is batchmean at about 1.42, EPIC-55's (w=20, T=5,
    top-50) is batchmean at 0.4.

``top_k > 0`` keeps, per sample, only the teacher's k highest-scoring classes (the student's
logits are taken at the same classes) before both softmaxes, as the authors did for EPIC-55.
"""
from __future__ import annotations


from benchmark.api import DistillLoss

from .config import KLConfig


class KLDistill(DistillLoss):
    name = "kl"
    version = "1"
    description = "T^2-scaled KL to the teacher's softened action distribution"
    Config = KLConfig

    def build(self, student_dim, teacher_dim):
        from .modules import KLModule

        return KLModule(self.config)
