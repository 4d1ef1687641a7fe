"""Batches cut on the device give exactly the batches of the shuffled DataLoader they replace."""
from __future__ import annotations

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, TensorDataset

from benchmark.run.batches import DeviceBatches


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
