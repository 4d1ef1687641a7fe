"""A student whose loss is NaN: its cells must be recorded as failed."""
import torch
from torch import nn

from benchmark import Student, hookimpl


class _Net(nn.Module):
    feature_dim = 4

    def __init__(self, d, c):
        super().__init__()
        self.lin = nn.Linear(d, c)

    def forward(self, x):
        logits = self.lin(x[:, -1]) * float("nan")
        return {"logits": logits, "feature": x[:, -1, :4]}


class NaNStudent(Student):
    name = "nan-student"
    description = "always NaN (test plugin)"

    def build(self, input_dim, num_classes):
        return _Net(input_dim, num_classes)


@hookimpl
def bench_register_students():
    return [NaNStudent]
