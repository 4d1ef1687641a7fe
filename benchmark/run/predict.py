"""Scoring the validation batches and timing the training steps of a student's training."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..progress import SILENT, Progress
from .batches import DeviceBatches


@dataclass
class StepTimes:
    """Wall time of each training step (its loss read back, so the device has finished it)."""

    times: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.times.append(seconds)

    def step_s(self) -> float:
        """The median step after the first."""
        rest = self.times[1:] or self.times
        return float(np.median(rest)) if rest else 0.0

    def warmup_s(self) -> float:
        """What the first step took beyond a usual one (a compiled student's compilation)."""
        return round(max(self.times[0] - self.step_s(), 0.0), 4) if self.times else 0.0

    def summary(self) -> dict[str, float]:
        if not self.times:
            return {}
        return {"first_step_s": round(self.times[0], 4), "step_s": round(self.step_s(), 5)}


def predict(modules: Any, val_loader: DeviceBatches, accelerator: Any, progress: Progress = SILENT,
             fixed: bool = False) -> np.ndarray:
    """Validation logits ``[N, C]`` in sample order, gathered across processes (rows that a
    rank's shard repeats to even out the ranks are written twice, with the same values).
    ``fixed``: a short last batch is padded to the full size, for a compiled student."""
    modules.eval()
    chunks, order = [], []
    with torch.no_grad():
        for x, idx in progress.iterate(val_loader):
            n = len(x)
            if fixed and n < val_loader.batch_size:
                x = torch.cat([x, x[-1:].expand(val_loader.batch_size - n, *x.shape[1:])])
            with accelerator.autocast():
                logits = modules(x)["logits"][:n].float()
            logits, idx = accelerator.gather((logits, idx))
            chunks.append(logits.cpu())
            order.append(idx.cpu())
    scores = torch.cat(chunks).numpy()
    positions = torch.cat(order).numpy()
    out = np.empty((val_loader.n, scores.shape[1]), dtype=scores.dtype)
    out[positions] = scores
    return out
