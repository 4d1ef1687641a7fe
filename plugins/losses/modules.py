"""Torch code of the built-in losses (imported only when a loss is built)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import EnsembleConfig, FeatConfig, KLConfig


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


def feature_distance(pred: torch.Tensor, target: torch.Tensor, distance: str) -> torch.Tensor:
    """``cosine``: batch mean of 1 - cos; ``nmse``: MSE of the L2-normalised vectors, averaged
    over batch x dimensions (equals ``2 / D * cosine``)."""
    pred, target = pred.float(), target.float()
    if distance == "cosine":
        return (1.0 - F.cosine_similarity(pred, target, dim=-1, eps=1e-8)).mean()
    if distance == "nmse":
        return F.mse_loss(F.normalize(pred, dim=-1, eps=1e-8), F.normalize(target, dim=-1, eps=1e-8))
    raise ValueError(f"feat: unknown distance '{distance}' (cosine, nmse)")


class FeatModule(nn.Module):
    def __init__(self, cfg: FeatConfig, student_dim: int, teacher_dim: int):
        super().__init__()
        self.cfg = cfg
        if cfg.hidden > 0:
            self.proj: nn.Module = nn.Sequential(
                nn.Linear(student_dim, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, teacher_dim)
            )
        else:
            self.proj = nn.Linear(student_dim, teacher_dim)

    def forward(self, out: dict, teacher: dict) -> torch.Tensor:
        if teacher.get("features") is None:
            raise ValueError("feat: the teacher batch has no 'features'")
        pred = self.proj(out["feature"])
        return self.cfg.weight * feature_distance(pred, teacher["features"].detach(), self.cfg.distance)


def mixture_log_probs(members: torch.Tensor, log_weights: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log sum_m w_m softmax(z_m / T)`` for members ``[B, M, C]`` and log-weights ``[B, M]``,
    computed with logsumexp so that tiny probabilities do not underflow to log(0)."""
    log_p = F.log_softmax(members.float() / temperature, dim=-1)
    return torch.logsumexp(log_weights.float().unsqueeze(-1) + log_p, dim=1)


class EnsembleModule(nn.Module):
    def __init__(self, cfg: EnsembleConfig, student_dim: int, num_members: int):
        super().__init__()
        self.cfg = cfg
        self.num_members = num_members
        self.scorer = nn.Linear(student_dim, num_members) if cfg.mode == "attention" else None

    def member_log_weights(self, out: dict, batch: int, num_members: int) -> torch.Tensor:
        """Per-sample log mixture weights ``[B, M]`` (uniform for ``mean``)."""
        if self.scorer is None:
            return torch.full((batch, num_members), -math.log(num_members), device=out["logits"].device)
        if num_members != self.num_members:
            raise ValueError(
                f"ensemble: the scorer was built for {self.num_members} teachers, the batch has {num_members}"
            )
        # the scorer routes between teachers; it does not train the student's feature
        return F.log_softmax(self.scorer(out["feature"].detach()).float(), dim=-1)

    def forward(self, out: dict, teacher: dict) -> torch.Tensor:
        c = self.cfg
        members = teacher.get("members")
        if members is None:
            if self.num_members > 1:
                raise ValueError(
                    f"ensemble: the teacher batch has no 'members' although teachers {c.teachers} are configured"
                )
            members = teacher["logits"].unsqueeze(1)
        members = members.detach()
        log_w = self.member_log_weights(out, members.shape[0], members.shape[1])
        log_mix = mixture_log_probs(members, log_w, c.temperature)
        # T * log p_bar are logits whose softmax at temperature T is p_bar itself
        return c.weight * kl_distill(out["logits"], c.temperature * log_mix, c.temperature, c.top_k, c.reduction)


class UniformKLModule(nn.Module):
    """KL from a uniform distribution to the student (``kl`` with a constant teacher)."""

    def __init__(self, cfg: KLConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, out: dict, teacher: dict | None = None) -> torch.Tensor:
        c = self.cfg
        logits = out["logits"]
        return c.weight * kl_distill(logits, torch.zeros_like(logits), c.temperature, 0, c.reduction)
