"""A third-party teacher written as a plain file: predicts the training-set action frequencies,
sharpened towards the last action's most frequent successor."""
from dataclasses import dataclass

import numpy as np

from benchmark import Teacher, TeacherOutput, hookimpl


@dataclass
class Config:
    smoothing: float = 1.0


class BigramTeacher(Teacher):
    name = "bigram-file"
    version = "1"
    description = "bigram counts over the action history (test plugin)"
    input_kind = "ids"
    Config = Config

    def fit(self, data, accelerator, seed, context):
        C = data.classes.num_actions
        counts = np.full((C + 1, C), self.config.smoothing)
        for s in data.splits["train"]:
            prev = s.history[-1] if s.history else C
            counts[prev, s.target.action] += 1
        self.logp = np.log(counts / counts.sum(1, keepdims=True))

    def predict(self, data, split, accelerator):
        C = data.classes.num_actions
        rows = [self.logp[s.history[-1] if s.history else C] for s in data.splits[split]]
        return TeacherOutput(np.asarray(rows, dtype=np.float32))


@hookimpl
def bench_register_teachers():
    return [BigramTeacher]
