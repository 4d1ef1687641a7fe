"""A small recurrent student over observed features: a simple, fast vision baseline."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from benchmark.api import Student


@dataclass
class GRUStudentConfig:
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.2


class _GRUNet(nn.Module):
    def __init__(self, input_dim: int, num_classes: int, cfg: GRUStudentConfig):
        super().__init__()
        self.feature_dim = cfg.hidden
        self.proj = nn.Linear(input_dim, cfg.hidden)
        self.gru = nn.GRU(cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                          dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, num_classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h, _ = self.gru(torch.relu(self.proj(x)))
        feature = h[:, -1]
        return {"logits": self.head(self.drop(feature)), "feature": feature}


class GRUStudent(Student):
    name = "gru"
    version = "1"
    description = "linear + GRU over observed features, classifier on the last step"
    Config = GRUStudentConfig

    def build(self, input_dim: int, num_classes: int) -> nn.Module:
        return _GRUNet(input_dim, num_classes, self.config)
