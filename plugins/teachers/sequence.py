"""A small recurrent teacher over action, verb and noun ids (no text, no pretrained LM).

It models the action sequence itself, so next to a text teacher it tells how much of the
teacher's value comes from language pretraining and how much from sequence modelling.
"""
from __future__ import annotations


from benchmark.api import AnticipationData, FitContext, Teacher, TeacherOutput

from .config import SequenceGRUConfig


class SequenceGRUTeacher(Teacher):
    name = "seq-gru"
    version = "1"
    description = "GRU over past action/verb/noun ids (reference teacher without text)"
    provides_features = True
    input_kind = "ids"
    Config = SequenceGRUConfig

    def _ids(self, data: AnticipationData, split: str):
        import torch

        L, pad = self.config.history_len, data.classes.num_actions
        rows = []
        for s in data.splits[split]:
            h = list(s.history[-L:])
            rows.append([pad] * (L - len(h)) + h)  # left-pad: the last position is the latest
        return torch.as_tensor(rows, dtype=torch.long).reshape(-1, L)

    def fit(self, data: AnticipationData, accelerator, seed: int, context: FitContext = FitContext()) -> None:
        import torch
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset

        from .sequence_model import SeqNet

        c = self.config
        self.net = SeqNet(data, c).to(accelerator.device)
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

    def predict(self, data: AnticipationData, split: str, accelerator) -> TeacherOutput:
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        self.net.eval()
        logits, feats = [], []
        for (xb,) in DataLoader(TensorDataset(self._ids(data, split)), batch_size=512):
            with torch.no_grad():
                lo, fe = self.net(xb.to(accelerator.device))
            logits.append(lo.float().cpu())
            feats.append(fe.float().cpu())
        return TeacherOutput(torch.cat(logits).numpy(), torch.cat(feats).numpy())
