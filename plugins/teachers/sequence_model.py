"""The torch module behind the ``seq-gru`` teacher (imported only when it is fitted)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmark.api import AnticipationData

from .config import SequenceGRUConfig


class SeqNet(nn.Module):
    """Embeddings of each past action, its verb and its noun, summed; a GRU; a linear action head.
    With ``factorised``, an action's logit also adds the verb and noun logits of its pair, so that
    a rare action borrows what the model knows of its verb and its noun."""

    def __init__(self, data: AnticipationData, cfg: SequenceGRUConfig):
        super().__init__()
        cls = data.classes
        self.pad = cls.num_actions
        self.factorised = cfg.factorised
        self.action = nn.Embedding(cls.num_actions + 1, cfg.embed_dim, padding_idx=self.pad)
        self.verb = nn.Embedding(len(cls.verbs) + 1, cfg.embed_dim, padding_idx=len(cls.verbs))
        self.noun = nn.Embedding(len(cls.nouns) + 1, cfg.embed_dim, padding_idx=len(cls.nouns))
        verbs = np.append(cls.action_verb, len(cls.verbs))
        nouns = np.append(cls.action_noun, len(cls.nouns))
        self.register_buffer("a2v", torch.as_tensor(verbs, dtype=torch.long), persistent=False)
        self.register_buffer("a2n", torch.as_tensor(nouns, dtype=torch.long), persistent=False)
        self.gru = nn.GRU(cfg.embed_dim, cfg.hidden, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout else nn.Identity()
        self.head = nn.Linear(cfg.hidden, cls.num_actions)
        self.verb_head = nn.Linear(cfg.hidden, len(cls.verbs))
        self.noun_head = nn.Linear(cfg.hidden, len(cls.nouns))

    def forward(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.action(ids) + self.verb(self.a2v[ids]) + self.noun(self.a2n[ids])
        _, h = self.gru(self.drop(x))
        feature = h[-1]
        z = self.drop(feature)
        verb, noun, action = self.verb_head(z), self.noun_head(z), self.head(z)
        if self.factorised:
            action = action + verb[:, self.a2v[:-1]] + noun[:, self.a2n[:-1]]
        return {"action": action, "verb": verb, "noun": noun, "feature": feature}
