"""Training batches cut from tensors that live on the device: each batch is one index into the
split's features, targets, sample ids and step labels, so no batch is assembled sample by sample
in Python, collated and copied.

The order of the samples is the one ``DataLoader(TensorDataset(...), shuffle=True,
generator=g)`` gives on one process, drawn from the same generator (:func:`epoch_order`), so
switching a cell to these batches changes none of its results (``tests/benchmark/run/
test_batches.py`` checks it against a DataLoader prepared by Accelerate)."""
from __future__ import annotations

import math
from typing import Any, Iterator

import torch


def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """One epoch's permutation of ``n`` samples, with the draws from ``generator`` that a shuffled
    map-style DataLoader makes in torch 2.x: a 64-bit number (the iterator's base seed), the
    permutation, and a second permutation that ``RandomSampler`` draws for a remainder it does
    not use."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(n, generator=generator)
    torch.randperm(n, generator=generator)
    return order


class DeviceBatches:
    """Batches of ``batch_size`` rows (the last one smaller) of ``tensors``, moved to ``device``
    once: in a fresh :func:`epoch_order` each time it is iterated, or in sample order without a
    ``generator`` (evaluation)."""

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, generator: torch.Generator | None,
                 device: Any):
        self.tensors = tuple(t.to(device) for t in tensors)
        self.n = len(tensors[0])
        self.batch_size = int(batch_size)
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        if self.generator is None:  # in order: plain slices, no copy
            for start in range(0, self.n, self.batch_size):
                yield tuple(t[start:start + self.batch_size] for t in self.tensors)
            return
        order = epoch_order(self.n, self.generator).to(self.tensors[0].device)
        for start in range(0, self.n, self.batch_size):
            rows = order[start:start + self.batch_size]
            yield tuple(t[rows] for t in self.tensors)
