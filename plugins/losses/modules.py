"""Torch code of the built-in losses (imported only when a loss is built)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .kl import KLConfig


def kl_distill(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
               top_k: int = 0, reduction: str = "batchmean") -> torch.Tensor:
    student, teacher = student.float(), teacher.float()
    if top_k and top_k < teacher.shape[-1]:
        idx = teacher.topk(top_k, dim=-1).indices
        teacher = teacher.gather(-1, idx)
        student = student.gather(-1, idx)
    log_p_t = F.log_softmax(teacher / temperature, dim=-1)
    log_p_s = F.log_softmax(student / temperature, dim=-1)
    pointwise = log_p_t.exp() * (log_p_t - log_p_s)
    if reduction == "paper":
        value = pointwise.mean()
    elif reduction == "batchmean":
        value = pointwise.sum(-1).mean()
    else:
        raise ValueError(f"kl: unknown reduction '{reduction}' (batchmean, paper)")
    return value * temperature**2


class KLModule(nn.Module):
    def __init__(self, cfg: KLConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, out: dict, teacher: dict) -> torch.Tensor:
        c = self.cfg
        return c.weight * kl_distill(out["logits"], teacher["logits"], c.temperature, c.top_k, c.reduction)


class MSEModule(nn.Module):
    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def forward(self, out: dict, teacher: dict) -> torch.Tensor:
        return self.weight * F.mse_loss(out["logits"].float(), teacher["logits"].float())
