"""The training input pipeline alone (no model): samples per second delivered, side by side on
the same data (8,192 samples x 10 steps x 1,024 float32, batch 128, the RULSTM/TSN width):

* ``device-batches``: the suite's path, batches cut from tensors held whole (resident);
* ``chunked``: the same batches streamed in chunks under a memory limit of a quarter of the data;
* ``dataloader``: the ``DataLoader`` over a ``TensorDataset`` that the suite used before;
* ``reference-lmdb``: a reference-style loader on an LMDB holding the same features in the
  RULSTM layout (one key per frame): every item reads its frames in ``__getitem__``, one read
  transaction per frame, and the DataLoader collates the items (one process, file in the page
  cache).

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_input_pipeline.py --benchmark-enable \
    --benchmark-only --benchmark-columns=min,mean,max,rounds
"""
from __future__ import annotations

import lmdb
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from benchmark.frame_layout import frame_key
from benchmark.run.batches import DeviceBatches, nbytes

N, T, D, BATCH = 8_192, 10, 1_024, 128
VIDEOS = 64


def _frames(i: int) -> list[bytes]:
    video, first = f"P{i % VIDEOS:02d}_01", (i // VIDEOS) * T
    return [frame_key(video, first + t) for t in range(T)]


@pytest.fixture(scope="module")
def tensors():
    torch.manual_seed(0)
    return (torch.randn(N, T, D), torch.randint(0, 2_513, (N,)), torch.arange(N), torch.full((N, 1), -100))


@pytest.fixture(scope="module")
def lmdb_path(tensors, tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "rgb"
    env = lmdb.open(str(path), map_size=1 << 32)
    x = tensors[0].numpy()
    with env.begin(write=True) as txn:
        for i in range(N):
            for key, row in zip(_frames(i), x[i]):
                txn.put(key, row.astype("<f4").tobytes())
    env.close()
    return path


class _PerFrameReads(Dataset):
    """What RULSTM-style loaders do per item: open a transaction per frame, decode, stack."""

    def __init__(self, path, y):
        self.path, self.env, self.y = str(path), None, y.tolist()

    def __len__(self):
        return N

    def __getitem__(self, i):
        if self.env is None:
            self.env = lmdb.open(self.path, readonly=True, lock=False)
        rows = []
        for key in _frames(i):
            with self.env.begin() as txn:
                rows.append(np.frombuffer(txn.get(key), dtype="<f4"))
        return torch.from_numpy(np.stack(rows)), self.y[i], i


def one_epoch(batches) -> int:
    return sum(len(b[0]) for b in batches)


@pytest.mark.parametrize("pipeline", ["device-batches", "chunked", "dataloader", "reference-lmdb"])
def test_training_samples_per_epoch(benchmark, tensors, lmdb_path, pipeline):
    """One epoch of batches of 128; samples/s = 8,192 / the time."""
    generator = torch.Generator().manual_seed(0)
    if pipeline == "device-batches":
        batches = DeviceBatches(tensors, BATCH, generator, torch.device("cpu"))
    elif pipeline == "chunked":
        batches = DeviceBatches(tensors, BATCH, generator, torch.device("cpu"), budget=nbytes(tensors) // 4)
        assert not batches.resident
    elif pipeline == "dataloader":
        batches = DataLoader(TensorDataset(*tensors), batch_size=BATCH, shuffle=True, generator=generator)
    else:
        batches = DataLoader(_PerFrameReads(lmdb_path, tensors[1]), batch_size=BATCH, shuffle=True,
                             generator=generator)
    rounds = 1 if pipeline == "reference-lmdb" else 3
    assert benchmark.pedantic(one_epoch, args=(batches,), rounds=rounds, iterations=1, warmup_rounds=1) == N
