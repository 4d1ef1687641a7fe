"""An n-gram model of the action sequence: interpolated absolute discounting over action ids.

A count-based reference teacher without text, network or randomness: next to a text teacher
it tells how much of the teacher's value a plain Markov model of the training sequences already
has. The formula is in docs/teachers.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.api import AnticipationData, FitContext, Sample, Teacher, TeacherOutput
from benchmark.settings import setting


@dataclass
class NGramConfig:
    order: int = setting(3, ge=1)  # n: the context is the last n-1 actions of the history
    discount: float = setting(0.75, gt=0.0, le=1.0)  # D, subtracted from every seen (context, action) count
    uniform_weight: float = setting(1e-3, gt=0.0, le=1.0)  # mass of the uniform distribution in the unigram


@dataclass
class _Context:
    """What one seen context contributes: discounted counts and the back-off weight."""

    actions: np.ndarray  # action ids seen after the context
    mass: np.ndarray  # max(c(h, w) - D, 0) / c(h) for those actions
    backoff: float  # gamma(h) = sum_w min(c(h, w), D) / c(h)


def contexts(samples: list[Sample], length: int, start: int) -> np.ndarray:
    """``[N, length]`` int64: the last ``length`` history actions, left-padded with ``start``."""
    out = np.full((len(samples), length), start, dtype=np.int64)
    if length:
        for i, s in enumerate(samples):
            h = s.history[-length:]
            if h:
                out[i, length - len(h):] = h
    return out


class NGramTeacher(Teacher):
    name = "ngram"
    version = "1"
    description = "interpolated absolute-discounting n-gram over action ids (reference teacher without text)"
    input_kind = "ids"
    provides_features = False
    Config = NGramConfig

    def fit(self, data: AnticipationData, accelerator, seed: int, context: FitContext = FitContext()) -> None:
        """Count (context, next action) pairs of the training samples at every order."""
        c = self.config
        n_cls, length = data.classes.num_actions, c.order - 1
        samples = data.splits["train"]
        y = np.fromiter((s.target.action for s in samples), dtype=np.int64, count=len(samples))
        counts = np.bincount(y, minlength=n_cls).astype(np.float64)
        unigram = np.full(n_cls, 1.0 / n_cls)
        if len(y):
            unigram = (1.0 - c.uniform_weight) * counts / counts.sum() + c.uniform_weight / n_cls
        self._num_actions, self._length, self._unigram = n_cls, length, unigram
        self._levels: list[dict[tuple[int, ...], _Context]] = [{}]  # index k: contexts of length k
        x = contexts(samples, length, start=n_cls)
        for k in range(1, length + 1):
            self._levels.append(self._count(x[:, length - k:], y, n_cls) if len(y) else {})

    def _count(self, ctx: np.ndarray, y: np.ndarray, n_cls: int) -> dict[tuple[int, ...], _Context]:
        rows, ctx_id = np.unique(ctx, axis=0, return_inverse=True)
        pairs, pair_counts = np.unique(ctx_id.reshape(-1) * n_cls + y, return_counts=True)
        owner, action = pairs // n_cls, pairs % n_cls  # sorted by context id
        bounds = np.searchsorted(owner, np.arange(len(rows) + 1))
        d = self.config.discount
        out = {}
        for j, row in enumerate(rows.tolist()):
            cnt = pair_counts[bounds[j]:bounds[j + 1]].astype(np.float64)
            total = cnt.sum()
            out[tuple(row)] = _Context(action[bounds[j]:bounds[j + 1]], np.maximum(cnt - d, 0.0) / total,
                                       float(np.minimum(cnt, d).sum() / total))
        return out

    def probabilities(self, context: tuple[int, ...]) -> np.ndarray:
        """P(next action | context) (float64, sums to 1) for a padded context of length order-1:
        from the unigram up to the longest seen suffix of the context."""
        p = self._unigram.copy()
        for k in range(1, self._length + 1):
            seen = self._levels[k].get(context[len(context) - k:])
            if seen is None:  # no longer suffix can have been seen either
                break
            p *= seen.backoff
            p[seen.actions] += seen.mass
        return p

    def predict(self, data: AnticipationData, split: str, accelerator) -> TeacherOutput:
        """Log-probabilities ``[N, num_actions]``, one dense row per distinct context."""
        samples, n_cls = data.splits[split], self._num_actions
        if self._length == 0 or not samples:
            row = np.log(self._unigram).astype(np.float32)
            return TeacherOutput(logits=np.tile(row, (len(samples), 1)))
        x = contexts(samples, self._length, start=n_cls)
        rows, inverse = np.unique(x, axis=0, return_inverse=True)
        table = np.empty((len(rows), n_cls), dtype=np.float32)
        for j, row in enumerate(rows.tolist()):
            table[j] = np.log(self.probabilities(tuple(row)))
        return TeacherOutput(logits=table[inverse.reshape(-1)])
