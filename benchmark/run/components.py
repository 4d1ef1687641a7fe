"""Components of a cell built from the plugin registries, their versions, and the metrics."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..api import AnticipationData, Corpus
from ..config import build_config
from ..corpora import teacher_corpus
from ..matrix import Cell
from ..plugin_manager import Plugins


class Components:
    """Builds a cell's components (each ``Config`` from the cell's configuration) and scores with
    its metrics."""

    def __init__(self, plugins: Plugins):
        self.plugins = plugins

    def build(self, cell: Cell, kind: str) -> Any:
        cls = self.plugins.get(kind, cell.components[kind])
        return cls(build_config(cls.Config, cell.configs[kind], f"{kind} {cell.components[kind]}"))

    def corpus(self, cell: Cell) -> Corpus | None:
        """The corpus the cell's teacher pretrains on, built (None without stage A)."""
        return teacher_corpus(self.plugins, self.build(cell, "teacher"), f"teacher {cell.teacher}")

    def versions(self, cell: Cell) -> dict[str, str]:
        out = {kind: f"{name}@{self.plugins.get(kind, name).version}" for kind, name in cell.components.items()}
        for m in cell.metrics:
            out[f"metric.{m}"] = str(self.plugins.get("metric", m).version)
        return out

    def metrics(self, cell: Cell, scores: np.ndarray, data: AnticipationData) -> dict[str, float | None]:
        """Every metric of the cell on validation ``scores`` (None where undefined, e.g. no
        many-shot list)."""
        targets = targets_of(data, "val")
        out: dict[str, float | None] = {}
        for name in cell.metrics:
            value = float(self.plugins.get("metric", name)().compute(scores, targets, data))
            out[name] = round(value, 4) if np.isfinite(value) else None
        return out

    def higher_is_better(self, cell: Cell) -> dict[str, bool]:
        return {m: bool(self.plugins.get("metric", m).higher_is_better) for m in cell.metrics}


def targets_of(data: AnticipationData, split: str) -> np.ndarray:
    """The anticipated action of every sample of ``split``, in order."""
    return np.array([s.target.action for s in data.splits[split]], dtype=np.int64)
