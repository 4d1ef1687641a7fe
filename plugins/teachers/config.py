"""The configurations of the built-in teachers that have a torch model, torch-free: read by the
components and by the models, so that neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.settings import setting


@dataclass
class SequenceGRUConfig:
    history_len: int = setting(5, ge=1)
    embed_dim: int = setting(32, ge=1)
    hidden: int = setting(64, ge=1)
    epochs: int = setting(8, ge=1)
    batch_size: int = setting(64, ge=1)
    lr: float = setting(3e-3, gt=0.0)
    weight_decay: float = setting(1e-4, ge=0.0)
