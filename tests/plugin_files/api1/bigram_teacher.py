"""A count-based teacher: P(next action | last action of the history), with add-k smoothing."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark import AnticipationData, Teacher, TeacherOutput, hookimpl, setting


class BigramTeacher(Teacher):
    name = "bigram"
    version = "1"  # bump when a change alters the soft labels: it invalidates cached outputs
    description = "add-k smoothed counts of next action given the last action"
    input_kind = "ids"

    @dataclass
    class Config:
        smoothing: float = setting(1.0, gt=0.0)  # add-k pseudo-count
        temperature: float = setting(1.0, gt=0.0)  # logits are log-probabilities divided by this

    def fit(self, data: AnticipationData, accelerator, seed: int) -> None:
        n = data.classes.num_actions
        # row n is "no history": the empty-history prior
        counts = np.full((n + 1, n), self.config.smoothing, dtype=np.float64)
        for s in data.splits["train"]:
            prev = s.history[-1] if s.history else n
            counts[prev, s.target.action] += 1.0
        self.log_probs = np.log(counts / counts.sum(axis=1, keepdims=True))

    def predict(self, data: AnticipationData, split: str, accelerator) -> TeacherOutput:
        n = data.classes.num_actions
        rows = [s.history[-1] if s.history else n for s in data.splits[split]]
        logits = self.log_probs[rows] / self.config.temperature
        return TeacherOutput(logits=logits.astype(np.float32))


@hookimpl
def bench_register_teachers():
    return [BigramTeacher]
