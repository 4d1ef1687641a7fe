"""A small recurrent student over observed features: a simple, fast vision baseline."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.api import Student
from benchmark.settings import setting


@dataclass
class GRUStudentConfig:
    hidden: int = setting(128, ge=1)
    layers: int = setting(1, ge=1)
    dropout: float = setting(0.2, ge=0.0, lt=1.0)


class GRUStudent(Student):
    name = "gru"
    version = "1"
    description = "linear + GRU over observed features, classifier on the last step"
    Config = GRUStudentConfig

    def build(self, input_dim: int, num_classes: int):
        from .gru_model import GRUNet

        return GRUNet(input_dim, num_classes, self.config)
