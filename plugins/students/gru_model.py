"""The torch module behind the ``gru`` student (imported only when a model is built)."""
from __future__ import annotations

import torch
from torch import nn

from .config import GRUStudentConfig


class GRUNet(nn.Module):
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
