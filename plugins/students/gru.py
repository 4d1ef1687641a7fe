"""A small recurrent student over observed features: a simple, fast vision baseline."""
from __future__ import annotations


from benchmark.api import Student

from .config import GRUStudentConfig


class GRUStudent(Student):
    name = "gru"
    version = "1"
    description = "linear + GRU over observed features, classifier on the last step"
    Config = GRUStudentConfig

    def build(self, input_dim: int, num_classes: int):
        from .gru_model import GRUNet

        return GRUNet(input_dim, num_classes, self.config)
