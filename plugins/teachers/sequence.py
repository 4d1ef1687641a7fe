"""A small recurrent teacher over action, verb and noun ids (no text, no pretrained LM).

It models the action sequence itself, so next to a text teacher it tells how much of the
teacher's value comes from language pretraining and how much from sequence modelling.
"""
from __future__ import annotations

import math

from typing import Any

import numpy as np

from benchmark.api import AnticipationData, FitContext, Teacher, TeacherOutput

from .config import SequenceGRUConfig


class SequenceGRUTeacher(Teacher):
    name = "seq-gru"
    version = "1"
    description = "GRU over past action/verb/noun ids (reference teacher without text)"
    provides_features = True
    input_kind = "ids"
    Config = SequenceGRUConfig
    #: after :meth:`fit`: per ensemble member, the epoch kept and the held-out top-5 of each epoch
    members_info: list[dict[str, Any]] = []

    def _ids(self, data: AnticipationData, split: str):
        import torch

        L, pad = self.config.history_len, data.classes.num_actions
        rows = []
        for s in data.splits[split]:
            h = list(s.history[-L:])
            rows.append([pad] * (L - len(h)) + h)  # left-pad: the last position is the latest
        return torch.as_tensor(rows, dtype=torch.long).reshape(-1, L)

    def fit(self, data: AnticipationData, accelerator, seed: int, context: FitContext = FitContext()) -> None:
        from .sequence_training import fit_member, held_out_videos

        c = self.config
        held = held_out_videos(data, c.holdout_videos, seed)
        self.nets, self.members_info = [], []
        for member in range(c.ensemble):
            # one stage per member: its steps are the epochs' batches
            steps = c.epochs * math.ceil(sum(s.video not in held for s in data.splits["train"]) / c.batch_size)
            context.progress.start("teacher fit" + (f" (member {member + 1}/{c.ensemble})" if c.ensemble > 1 else ""),
                                   steps)
            net, info = fit_member(self, data, held, accelerator.device, seed + member, context.progress)
            self.nets.append(net)
            self.members_info.append(info)

    def describe(self) -> dict[str, Any]:
        return {"members": self.members_info} if self.members_info else {}

    def predict(self, data: AnticipationData, split: str, accelerator) -> TeacherOutput:
        from .sequence_training import predict_members

        logits, features = predict_members(self.nets, self._ids(data, split), accelerator.device)
        return TeacherOutput(np.asarray(logits), np.asarray(features))
