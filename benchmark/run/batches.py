"""Batches cut from tensors held whole: each batch is one index into the split's features,
targets, sample ids and step labels, so no batch is assembled sample by sample in Python,
collated and copied.

* **Resident**: the tensors are moved to the device once and every batch is gathered there.
* **Chunked**: when they do not fit the device's share (:func:`device_budget`), they stay in
  host memory (pinned on CUDA) and are streamed in chunks of many batches: the chunk's rows are
  gathered on the host in one call, copied in one transfer, and the batches are sliced from it.
  The batches are the same as the resident path's, only where they are gathered differs.
* **Sharded**: over ``world`` processes every rank draws the same permutation from the same
  seeded generator and takes its part of each global batch of ``batch_size x world`` rows
  (:func:`shard_rows`), so the ranks together see every sample once per epoch.

The order of the samples is the one ``DataLoader(TensorDataset(...), shuffle=True,
generator=g)`` gives on one process, drawn from the same generator (:func:`epoch_order`), so
these batches change none of a cell's results (``tests/benchmark/run/test_batches.py`` checks
it against a DataLoader prepared by Accelerate)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch

#: share of the device memory still free (after the model and optimiser are built) that a cell's
#: inputs may take; the rest is left for activations, gradients and the allocator's slack
DEVICE_SHARE = 0.5


@dataclass(frozen=True)
class Shard:
    """This process's place among the data-parallel ranks."""

    rank: int = 0
    world: int = 1


def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """One epoch's permutation of ``n`` samples, with the draws from ``generator`` that a shuffled
    map-style DataLoader makes in torch 2.x: a 64-bit number (the iterator's base seed), the
    permutation, and a second permutation that ``RandomSampler`` draws for a remainder it does
    not use."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(n, generator=generator)
    torch.randperm(n, generator=generator)
    return order


def steps_per_epoch(n: int, batch_size: int, world: int = 1, drop_last: bool = False) -> int:
    """How many batches each rank takes per epoch (the same on every rank)."""
    per_step = batch_size * world
    return n // per_step if drop_last and n >= per_step else math.ceil(n / per_step)


def shard_rows(order: torch.Tensor, batch_size: int, shard: Shard = Shard(),
               drop_last: bool = False) -> list[torch.Tensor]:
    """This rank's batches of ``order`` (sample indices): the ``rank``-th ``batch_size`` rows of
    each global batch of ``batch_size x world``. A short last global batch is split evenly; when
    its rows do not divide by ``world`` it is completed with the epoch's first rows, so that all
    ranks take the same number of equally shaped steps (at most ``world - 1`` samples are then
    seen twice). ``drop_last`` drops a short last global batch instead (fixed shapes for a
    compiled student; a fresh permutation each epoch drops other samples)."""
    n, per_step = len(order), batch_size * shard.world
    out = []
    for start in range(0, n, per_step):
        rows = order[start:start + per_step]
        if len(rows) < per_step:
            if drop_last and n >= per_step:
                break
            short = -len(rows) % shard.world
            rows = torch.cat([rows, order[:short]]) if short else rows
            size = len(rows) // shard.world
        else:
            size = batch_size
        out.append(rows[shard.rank * size:(shard.rank + 1) * size])
    return out


def nbytes(tensors: tuple[torch.Tensor, ...]) -> int:
    return sum(t.element_size() * t.numel() for t in tensors)


def device_budget(device: Any, limit_mb: float = 0.0) -> int | None:
    """Bytes of inputs the device may hold: ``limit_mb`` when set; on CUDA otherwise
    :data:`DEVICE_SHARE` of the free memory measured now; None (no limit) for host memory, where
    the inputs already are."""
    if limit_mb > 0:
        return int(limit_mb * 2**20)
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * DEVICE_SHARE)
    return None


class DeviceBatches:
    """This rank's batches of ``batch_size`` rows of ``tensors``: in a fresh :func:`epoch_order`
    each time it is iterated, or in sample order without a ``generator`` (evaluation).

    ``budget`` (bytes, from :func:`device_budget`) chooses the path: resident when the tensors fit
    in it (or no budget), chunked otherwise, each chunk at most ``budget`` bytes."""

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, generator: torch.Generator | None,
                 device: Any, shard: Shard = Shard(), budget: int | None = None, drop_last: bool = False):
        self.device = torch.device(device)
        self.n = len(tensors[0])
        self.batch_size = int(batch_size)
        self.generator = generator
        self.shard = shard
        self.drop_last = drop_last
        size = nbytes(tensors)
        self.resident = budget is None or size <= budget
        if self.resident:
            self.tensors = tuple(t.to(self.device) for t in tensors)
            self.chunk_steps = 0
        else:
            pin = self.device.type == "cuda"
            self.tensors = tuple(t.pin_memory() if pin else t for t in tensors)
            row_bytes = max(size // max(self.n, 1), 1)
            self.chunk_steps = max(int(budget // (row_bytes * self.batch_size)), 1)
        self._staging: tuple[torch.Tensor, ...] | None = None
        self._copied: Any = None

    @property
    def path(self) -> str:
        return "resident" if self.resident else f"chunked ({self.chunk_steps} batches a chunk)"

    def __len__(self) -> int:
        return steps_per_epoch(self.n, self.batch_size, self.shard.world, self.drop_last)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        if self.generator is None and self.shard.world == 1 and not self.drop_last:
            yield from self._in_order()
            return
        order = torch.arange(self.n) if self.generator is None else epoch_order(self.n, self.generator)
        if self.resident:  # indices to the device once, each batch one gather there
            for rows in shard_rows(order.to(self.device), self.batch_size, self.shard, self.drop_last):
                yield tuple(t[rows] for t in self.tensors)
            return
        rows = shard_rows(order, self.batch_size, self.shard, self.drop_last)
        for first in range(0, len(rows), self.chunk_steps):
            part = rows[first:first + self.chunk_steps]
            chunk = self._transfer(torch.cat(part))
            offset = 0
            for r in part:
                yield tuple(c[offset:offset + len(r)] for c in chunk)
                offset += len(r)

    def _in_order(self) -> Iterator[tuple[torch.Tensor, ...]]:
        """Evaluation on one process: plain slices (no copy when resident), or slices of chunks
        copied in sample order."""
        if self.resident:
            for start in range(0, self.n, self.batch_size):
                yield tuple(t[start:start + self.batch_size] for t in self.tensors)
            return
        step = self.batch_size * self.chunk_steps
        for start in range(0, self.n, step):
            chunk = tuple(t[start:start + step].to(self.device, non_blocking=True) for t in self.tensors)
            for offset in range(0, len(chunk[0]), self.batch_size):
                yield tuple(c[offset:offset + self.batch_size] for c in chunk)

    def _transfer(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``rows`` of every tensor gathered on the host in one call each, then copied to the
        device in one transfer each (from reused pinned buffers on CUDA)."""
        if self.device.type != "cuda":
            return tuple(t.index_select(0, rows) for t in self.tensors)
        if self._staging is None:
            rows_max = self.chunk_steps * self.batch_size
            self._staging = tuple(torch.empty((rows_max, *t.shape[1:]), dtype=t.dtype).pin_memory()
                                  for t in self.tensors)
            self._copied = torch.cuda.Event()
        else:
            self._copied.synchronize()  # the previous chunk's copy has left the buffers
        out = []
        for t, buffer in zip(self.tensors, self._staging):
            staged = buffer[:len(rows)]
            torch.index_select(t, 0, rows, out=staged)
            out.append(staged.to(self.device, non_blocking=True))
        self._copied.record()
        return tuple(out)
