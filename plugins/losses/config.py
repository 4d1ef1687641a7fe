"""The configurations of the built-in distillation losses, torch-free: read by the components and
by their torch modules (:mod:`plugins.losses.modules`), so that neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from benchmark.settings import setting


#: how the KL is averaged: ``batchmean`` (sum over classes, mean over the batch, as torch's
#: ``kl_div``) or ``paper`` (the authors' code: mean over classes and batch)
Reduction = Literal["batchmean", "paper"]


@dataclass
class KLConfig:
    weight: float = setting(1.0, ge=0.0)
    temperature: float = setting(2.0, gt=0.0)
    top_k: int = setting(0, ge=0)  # 0: all classes
    reduction: Reduction = "batchmean"


@dataclass
class FeatConfig:
    weight: float = setting(1.0, ge=0.0)
    distance: Literal["cosine", "nmse"] = "cosine"
    hidden: int = setting(0, ge=0)  # 0: linear projection; > 0: Linear -> GELU -> Linear with this width


@dataclass
class EnsembleConfig:
    teachers: list[str] = field(default_factory=list)  # extra teachers (aliases or names)
    mode: Literal["mean", "attention"] = "mean"
    temperature: float = setting(1.0, gt=0.0)
    weight: float = setting(1.0, ge=0.0)
    top_k: int = setting(0, ge=0)  # 0: all classes
    reduction: Reduction = "batchmean"
