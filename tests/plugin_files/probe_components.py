"""Test plugin: a student and a loss that record what the training loop hands them
(per-step labels, stages, member teachers, per-student training settings)."""
from dataclasses import dataclass, field

import torch
from torch import nn

from benchmark import DistillLoss, Student, hookimpl

SEEN: dict = {"stages": [], "steps": [], "members": [], "lr": []}


@dataclass
class ProbeConfig:
    hidden: int = 8


class _Net(nn.Module):
    def __init__(self, d, c, h):
        super().__init__()
        self.feature_dim = h
        self.proj = nn.Linear(d, h)
        self.head = nn.Linear(h, c)
        self.stage = "unset"

    def forward(self, x):
        f = torch.relu(self.proj(x.mean(1)))
        if self.training:
            SEEN["stages"].append(self.stage)
        return {"logits": self.head(f), "feature": f}


class ProbeStudent(Student):
    name = "probe-student"
    description = "records step labels and stages (test plugin)"
    Config = ProbeConfig
    needs_step_labels = True
    train_defaults = {"lr": 0.0123, "batch_size": 7}

    def build(self, input_dim, num_classes):
        return _Net(input_dim, num_classes, self.config.hidden)

    def pretrain_epochs(self):
        return 1

    def own_loss(self, output, targets, step_targets=None):
        SEEN["steps"].append(None if step_targets is None else tuple(step_targets.shape))
        return nn.functional.cross_entropy(output["logits"], targets)


@dataclass
class ProbeLossConfig:
    teachers: list[str] = field(default_factory=list)


class _LossModule(nn.Module):
    def forward(self, out, teacher):
        SEEN["members"].append(tuple(teacher["members"].shape) if "members" in teacher else None)
        return 0.0 * out["logits"].sum()


class ProbeLoss(DistillLoss):
    name = "probe-loss"
    description = "records the teacher batch (test plugin)"
    Config = ProbeLossConfig

    def member_teachers(self):
        return list(self.config.teachers)

    def build(self, student_dim, teacher_dim):
        return _LossModule()


@hookimpl
def bench_register_students():
    return [ProbeStudent]


@hookimpl
def bench_register_losses():
    return [ProbeLoss]
