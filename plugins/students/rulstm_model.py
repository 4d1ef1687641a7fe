"""The torch modules behind the ``rulstm`` students (imported only when a model is built)."""
from __future__ import annotations

import torch
from torch import nn

from benchmark.errors import ConfigError

from .config import RULSTMConfig


class RULSTMBranch(nn.Module):
    """Rolling and unrolling LSTMs over one modality, with its classifier."""

    def __init__(self, input_dim: int, hidden: int, num_classes: int, dropout: float):
        super().__init__()
        self.hidden = hidden
        self.drop = nn.Dropout(dropout)
        self.rolling = nn.LSTMCell(input_dim, hidden)  # a cell, to keep c at every step
        self.unrolling = nn.LSTM(input_dim, hidden, batch_first=True)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def roll(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rolling states ``(h, c)``, each ``[B, T, H]``: the state after reading each step."""
        x = self.drop(x)
        h = x.new_zeros(x.shape[0], self.hidden)
        c = x.new_zeros(x.shape[0], self.hidden)
        hs, cs = [], []
        for t in range(x.shape[1]):
            h, c = self.rolling(x[:, t], (h, c))
            hs.append(h)
            cs.append(c)
        return torch.stack(hs, 1), torch.stack(cs, 1)

    def unroll(self, x: torch.Tensor, steps: list[int], h0: torch.Tensor, c0: torch.Tensor,
               extra: int, complete: bool) -> torch.Tensor:
        """Last unrolling hidden state ``[B, n, H]`` for each start step in ``steps``.

        The unroll from step ``i`` reads ``T - 1 - i + extra + 1`` inputs: step ``i`` repeated,
        or with ``complete`` (sequence completion) steps ``i, i+1, ...`` clipped to the last one.
        All start steps run as one batch padded to the longest unroll; since the LSTM is causal,
        reading each state at its own length ignores the padding."""
        B, T, _ = x.shape
        n = len(steps)
        start = torch.tensor(steps, device=x.device)
        lengths = (T - 1 - start) + extra + 1
        offsets = torch.arange(int(lengths.max()), device=x.device)
        if complete:
            index = torch.clamp(start[:, None] + offsets[None, :], max=T - 1)
        else:
            index = start[:, None].expand(n, len(offsets))
        inputs = self.drop(x[:, index])  # [B, n, L, D]
        out, _ = self.unrolling(
            inputs.reshape(B * n, len(offsets), -1),
            (h0.reshape(1, B * n, -1).contiguous(), c0.reshape(1, B * n, -1).contiguous()),
        )
        out = out.reshape(B, n, len(offsets), -1)
        return out[:, torch.arange(n, device=x.device), lengths - 1]

    def forward(self, x: torch.Tensor, steps: list[int], extra: int, complete: bool
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores ``[B, n, C]``, unrolled hidden ``[B, n, H]`` and rolling cell ``[B, n, H]``."""
        h, c = self.roll(x)
        h, c = h[:, steps], c[:, steps]
        last = self.unroll(x, steps, h, c, extra, complete)
        return self.classifier(last), last, c


class RULSTMNet(nn.Module):
    """One :class:`RULSTMBranch` per modality, fused per step by MATT when there are several.

    ``stage`` is set by the training loop: ``"pretrain"`` turns on sequence completion."""

    def __init__(self, branches: dict[str, tuple[int, int]], num_classes: int, cfg: RULSTMConfig,
                 anticipation_index: int, name: str = "rulstm"):
        super().__init__()
        self.stage = "train"
        self.branch = ""  # set by the training loop: the one branch that runs ("" = all, fused)
        self.name = name
        self.names = list(branches)
        self.ranges = [branches[m] for m in self.names]
        self.ant_steps = cfg.ant_steps
        self.extra = cfg.unroll_extra
        self.anticipation_index = anticipation_index
        self.branches = nn.ModuleList(
            RULSTMBranch(hi - lo, cfg.hidden, num_classes, cfg.dropout) for lo, hi in self.ranges
        )
        self.feature_dim = cfg.hidden * len(self.names)
        self.matt = None
        if len(self.names) > 1:  # MLP in -> in/4 -> in/8 -> M over [unrolled h, rolling c]
            size = 2 * cfg.hidden * len(self.names)
            self.matt = nn.Sequential(
                nn.Linear(size, size // 4), nn.ReLU(), nn.Dropout(cfg.dropout),
                nn.Linear(size // 4, size // 8), nn.ReLU(), nn.Dropout(cfg.dropout),
                nn.Linear(size // 8, len(self.names)),
            )

    def steps(self, T: int) -> tuple[list[int], int]:
        """The steps that get a prediction (the last ``ant_steps``) and the scored one's position."""
        scored = self.anticipation_index if self.anticipation_index >= 0 else T + self.anticipation_index
        steps = list(range(max(0, T - self.ant_steps), T))
        if scored not in steps:
            raise ConfigError(
                f"components.student.{self.name}.ant_steps: the scored step {scored} of {T} is not among the "
                f"last {self.ant_steps} steps; expected ant_steps >= {T - scored}"
            )
        return steps, scored - steps[0]

    def branch_modules(self, name: str) -> nn.Module:
        """The module a stage on branch ``name`` trains ("" = the whole network)."""
        if not name:
            return self
        if name not in self.names:
            raise ConfigError(f"components.student.{self.name}: no branch '{name}' (branches: {self.names})")
        return self.branches[self.names.index(name)]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        steps, pos = self.steps(x.shape[1])
        complete = self.stage == "pretrain"
        if self.branch and len(self.names) > 1:  # one branch alone, as the reference trains it first
            lo, hi = self.ranges[self.names.index(self.branch)]
            s, h, _ = self.branch_modules(self.branch)(x[..., lo:hi], steps, self.extra, complete)
            return {"all_logits": s, "logits": s[:, pos], "feature": h[:, pos]}
        scores, hidden, contexts = [], [], []
        for (lo, hi), branch in zip(self.ranges, self.branches):
            s, h, c = branch(x[..., lo:hi], steps, self.extra, complete)
            scores.append(s)
            hidden.append(h)
            contexts.append(torch.cat([h, c], -1))
        out: dict[str, torch.Tensor] = {}
        if self.matt is None:
            fused = scores[0]
        else:
            weights = torch.softmax(self.matt(torch.cat(contexts, -1)), -1)  # [B, n, M]
            fused = (torch.stack(scores, -2) * weights.unsqueeze(-1)).sum(-2)
            out["matt_weights"] = weights
        out["all_logits"] = fused
        out["logits"] = fused[:, pos]
        out["feature"] = torch.cat([h[:, pos] for h in hidden], -1)
        return out
