"""The training input pipeline alone (no model): samples per second delivered by batches cut from
device-resident tensors against the DataLoader over a TensorDataset they replace, side by side
on the same EPIC-55-sized arrays (AVT-h preset shape: 23,493 samples x 10 steps x 1,024).

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_input_pipeline.py --benchmark-enable \
    --benchmark-only --benchmark-columns=min,mean,max,rounds
"""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmark.run.batches import DeviceBatches

N, T, D, BATCH = 23_493, 10, 1_024, 128


@pytest.fixture(scope="module")
def tensors():
    torch.manual_seed(0)
    return (torch.randn(N, T, D), torch.randint(0, 2_513, (N,)), torch.arange(N), torch.full((N, 1), -100))


def one_epoch(batches) -> int:
    return sum(len(b[0]) for b in batches)


@pytest.mark.parametrize("pipeline", ["device-batches", "dataloader"])
def test_training_samples_per_epoch(benchmark, tensors, pipeline):
    """One epoch of batches of 128; samples/s = 23,493 / the time."""
    generator = torch.Generator().manual_seed(0)
    if pipeline == "device-batches":
        batches = DeviceBatches(tensors, BATCH, generator, torch.device("cpu"))
    else:
        batches = DataLoader(TensorDataset(*tensors), batch_size=BATCH, shuffle=True, generator=generator)
    assert benchmark.pedantic(one_epoch, args=(batches,), rounds=3, iterations=1) == N
