"""Batches cut on the device give exactly the batches of the shuffled DataLoader they replace,
whether resident or streamed in chunks, and data-parallel shards cover every sample."""
from __future__ import annotations

import math

import pytest
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, TensorDataset

from benchmark.run.batches import DeviceBatches, Shard, device_budget, epoch_order, nbytes, shard_rows


def test_device_batches_equal_an_accelerate_prepared_shuffled_dataloader_epoch_after_epoch():
    n, batch = 23, 5
    torch.manual_seed(0)
    tensors = (torch.randn(n, 3, 4), torch.randint(0, 9, (n,)), torch.arange(n), torch.randint(-100, 9, (n, 3)))
    acc = Accelerator(cpu=True)
    loader = acc.prepare(DataLoader(TensorDataset(*tensors), batch_size=batch, shuffle=True,
                                    generator=torch.Generator().manual_seed(7)))
    mine = DeviceBatches(tensors, batch, torch.Generator().manual_seed(7), acc.device)
    assert len(mine) == len(loader) == 5
    for _ in range(3):  # the generator moves on the same way every epoch
        expected, got = list(loader), list(mine)
        assert len(expected) == len(got)
        for a, b in zip(expected, got):
            for x, y in zip(a, b):
                assert x.dtype == y.dtype and torch.equal(x, y)
    seen = torch.cat([b[2] for b in mine])
    assert sorted(seen.tolist()) == list(range(n))  # every sample once per epoch


def test_without_a_generator_the_batches_are_the_samples_in_order():
    tensors = (torch.randn(11, 2), torch.arange(11))
    batches = list(DeviceBatches(tensors, 4, None, torch.device("cpu")))
    assert [len(b[0]) for b in batches] == [4, 4, 3]
    assert torch.equal(torch.cat([b[1] for b in batches]), torch.arange(11))
    assert torch.equal(torch.cat([b[0] for b in batches]), tensors[0])


def _tensors(n: int):
    torch.manual_seed(1)
    return (torch.randn(n, 3, 4), torch.randint(0, 9, (n,)), torch.arange(n), torch.randint(-100, 9, (n, 3)))


def _epochs(batches, count: int = 2):
    return [[tuple(t.clone() for t in b) for b in batches] for _ in range(count)]


def _equal_epochs(a, b):
    assert len(a) == len(b)
    for ea, eb in zip(a, b):
        assert len(ea) == len(eb)
        for ba, bb in zip(ea, eb):
            assert all(x.dtype == y.dtype and torch.equal(x, y) for x, y in zip(ba, bb))


def test_inputs_over_a_memory_limit_are_streamed_in_chunks_with_the_same_batches():
    n, batch = 37, 4
    tensors = _tensors(n)
    size = nbytes(tensors)
    row = size / n
    budget = int(row * batch * 3)  # room for three batches: the data do not fit
    assert size > budget
    chunked = DeviceBatches(tensors, batch, torch.Generator().manual_seed(3), "cpu", budget=budget)
    assert not chunked.resident and chunked.chunk_steps == 3 and chunked.path == "chunked (3 batches a chunk)"
    resident = DeviceBatches(tensors, batch, torch.Generator().manual_seed(3), "cpu", budget=size)
    assert resident.resident
    _equal_epochs(_epochs(chunked), _epochs(resident))
    # evaluation (in order) through chunks gives the samples in order
    val = DeviceBatches(tensors[:3], 5, None, "cpu", budget=int(row * 5 * 2))
    assert not val.resident
    got = list(val)
    assert [len(b[0]) for b in got] == [5] * 7 + [2]
    assert torch.equal(torch.cat([b[2] for b in got]), torch.arange(n))
    assert torch.equal(torch.cat([b[0] for b in got]), tensors[0])


def test_a_limit_below_one_batch_still_streams_one_batch_at_a_time():
    tensors = _tensors(10)
    batches = DeviceBatches(tensors, 4, torch.Generator().manual_seed(0), "cpu", budget=1)
    assert batches.chunk_steps == 1
    assert sorted(torch.cat([b[2] for b in batches]).tolist()) == list(range(10))


def test_device_budget_is_the_limit_when_set_and_none_for_host_memory():
    assert device_budget("cpu") is None
    assert device_budget("cpu", 1.5) == int(1.5 * 2**20)


@pytest.mark.parametrize("n", [24, 25, 29, 23])
def test_data_parallel_shards_cover_every_sample_once_per_epoch(n):
    """3 ranks, batch 4: each draws the same permutation from the same seed and takes its part of
    every global batch of 12; together they see every sample once (a last global batch whose
    rows do not divide by 3 is completed with the epoch's first rows: at most 2 repeats)."""
    world, batch = 3, 4
    tensors = _tensors(n)
    ranks = [DeviceBatches(tensors, batch, torch.Generator().manual_seed(5), "cpu", Shard(r, world))
             for r in range(world)]
    assert len({len(r) for r in ranks}) == 1 and len(ranks[0]) == math.ceil(n / (batch * world))
    for _ in range(2):
        epochs = [list(r) for r in ranks]
        for step in zip(*epochs):  # equal shapes on every rank at every step
            assert len({len(b[0]) for b in step}) == 1
        seen = torch.cat([b[2] for rank in epochs for b in rank]).tolist()
        assert sorted(set(seen)) == list(range(n))
        repeats = len(seen) - n
        assert repeats == (-(n % (batch * world)) % world if n % (batch * world) else 0)
        if n % world == 0:
            assert sorted(seen) == list(range(n))  # exactly once


def test_full_shards_are_the_batches_accelerate_gives_each_rank():
    """With whole global batches rank r takes batches r, r + world, ... of one process's
    shuffle, as Accelerate's BatchSamplerShard does."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler, SequentialSampler

    n, world, batch = 24, 2, 3
    order = epoch_order(n, torch.Generator().manual_seed(2))
    sampler = BatchSampler(SequentialSampler(range(n)), batch, drop_last=False)
    for rank in range(world):
        expected = [order[b] for b in BatchSamplerShard(sampler, world, rank)]
        got = shard_rows(order, batch, Shard(rank, world))
        assert [e.tolist() for e in expected] == [g.tolist() for g in got]


def test_drop_last_gives_equal_batches_and_a_new_remainder_each_epoch():
    tensors = _tensors(10)
    batches = DeviceBatches(tensors, 4, torch.Generator().manual_seed(0), "cpu", drop_last=True)
    assert len(batches) == 2
    first, second = ([b[2] for b in batches] for _ in range(2))
    assert [len(b) for b in first] == [4, 4] and [len(b) for b in second] == [4, 4]
    assert set(torch.cat(first).tolist()) != set(torch.cat(second).tolist())
