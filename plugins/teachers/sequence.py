"""A small recurrent teacher over action, verb and noun ids (no text, no pretrained LM).

It models the action sequence itself, so next to a text teacher it tells how much of the
teacher's value comes from language pretraining and how much from sequence modelling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from benchmark.api import AnticipationData, Teacher, TeacherOutput


@dataclass
class SequenceGRUConfig:
    history_len: int = 5
    embed_dim: int = 32
    hidden: int = 64
    epochs: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4


class _SeqNet(nn.Module):
    def __init__(self, data: AnticipationData, cfg: SequenceGRUConfig):
        super().__init__()
        cls = data.classes
        self.pad = cls.num_actions
        self.action = nn.Embedding(cls.num_actions + 1, cfg.embed_dim, padding_idx=self.pad)
        self.verb = nn.Embedding(len(cls.verbs) + 1, cfg.embed_dim, padding_idx=len(cls.verbs))
        self.noun = nn.Embedding(len(cls.nouns) + 1, cfg.embed_dim, padding_idx=len(cls.nouns))
        verbs = np.append(cls.action_verb, len(cls.verbs))
        nouns = np.append(cls.action_noun, len(cls.nouns))
        self.register_buffer("a2v", torch.as_tensor(verbs, dtype=torch.long), persistent=False)
        self.register_buffer("a2n", torch.as_tensor(nouns, dtype=torch.long), persistent=False)
        self.gru = nn.GRU(cfg.embed_dim, cfg.hidden, batch_first=True)
        self.head = nn.Linear(cfg.hidden, cls.num_actions)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.action(ids) + self.verb(self.a2v[ids]) + self.noun(self.a2n[ids])
        _, h = self.gru(x)
        feature = h[-1]
        return self.head(feature), feature


class SequenceGRUTeacher(Teacher):
    name = "seq-gru"
    version = "1"
    description = "GRU over past action/verb/noun ids (reference teacher without text)"
    provides_features = True
    input_kind = "ids"
    Config = SequenceGRUConfig

    def _ids(self, data: AnticipationData, split: str) -> torch.Tensor:
        L, pad = self.config.history_len, data.classes.num_actions
        rows = []
        for s in data.splits[split]:
            h = list(s.history[-L:])
            rows.append([pad] * (L - len(h)) + h)  # left-pad: the last position is the latest
        return torch.as_tensor(rows, dtype=torch.long).reshape(-1, L)

    def fit(self, data: AnticipationData, accelerator, seed: int) -> None:
        c = self.config
        self.net = _SeqNet(data, c).to(accelerator.device)
        x = self._ids(data, "train")
        y = torch.as_tensor([s.target.action for s in data.splits["train"]], dtype=torch.long)
        loader = DataLoader(TensorDataset(x, y), batch_size=c.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        opt = torch.optim.AdamW(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        self.net.train()
        for _ in range(c.epochs):
            for xb, yb in loader:
                xb, yb = xb.to(accelerator.device), yb.to(accelerator.device)
                logits, _ = self.net(xb)
                loss = nn.functional.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

    @torch.no_grad()
    def predict(self, data: AnticipationData, split: str, accelerator) -> TeacherOutput:
        self.net.eval()
        logits, feats = [], []
        for (xb,) in DataLoader(TensorDataset(self._ids(data, split)), batch_size=512):
            lo, fe = self.net(xb.to(accelerator.device))
            logits.append(lo.float().cpu())
            feats.append(fe.float().cpu())
        return TeacherOutput(torch.cat(logits).numpy(), torch.cat(feats).numpy())
