"""Student training throughput on 2 CPU cores: the suite's path (features preloaded once from the
LMDB into one array, batches sliced from it) against a naive loop that reads every item's
frames from the LMDB in ``__getitem__`` (a fresh transaction per item, as RULSTM-style loaders
do), with the same model and optimiser. Peak memory per student is measured in a fresh process.

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_students.py --benchmark-enable --benchmark-only
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment
from benchmark.config import build_config
from benchmark.protocol import frames_of
from plugins.features import lmdb_source
from plugins.features.lmdb_source import LMDBFeatures, frame_key

SAMPLES, STEPS, DIM, CLASSES, BATCH = 4096, 10, 1024, 106, 64  # EGTEA-sized classes, TSN/RULSTM width
STEP_S = 1.0
STUDENTS = ["gru", "avt", "rulstm"]


def _data(root: Path, write: bool = True) -> tuple[AnticipationData, LMDBFeatures]:
    rng = np.random.default_rng(0)
    samples, timelines, values = [], {}, {}
    for k in range(SAMPLES):
        video = f"P{k % 40:02d}_01"
        obs_end = 20.0 + 12.0 * (k // 40) + float(rng.uniform(0, 5))
        target = Segment(f"s{k}", video, obs_end + 1.0, obs_end + 3.0, int(rng.integers(CLASSES)), 0, 0)
        timelines.setdefault(video, []).append(target)
        samples.append(Sample(f"s{k}", video, target, obs_end, ()))
    for video in timelines:
        timelines[video].sort(key=lambda s: s.start)
    names = [f"a{i}" for i in range(CLASSES)]
    classes = ClassSpace(names, ["v"], ["n"], np.zeros(CLASSES, int), np.zeros(CLASSES, int))
    data = AnticipationData(name="perf", data_kind="real", classes=classes,
                            splits={"train": samples, "val": samples[:256]}, timelines=timelines,
                            obs_steps=STEPS, obs_step_s=STEP_S, fingerprint="perf-students")
    if not write:  # the LMDB exists (written by another process)
        return data, LMDBFeatures(LMDBFeatures.Config(root=str(root), modalities=["rgb"]))
    env = lmdb.open(str(root / "rgb"), map_size=1 << 31)
    with env.begin(write=True) as txn:
        for s in samples:
            for f in frames_of(data.obs_times(s)):
                key = frame_key(s.video, int(f))
                if txn.get(key) is None:
                    txn.put(key, rng.standard_normal(DIM).astype("<f4").tobytes())
    env.close()
    return data, LMDBFeatures(LMDBFeatures.Config(root=str(root), modalities=["rgb"]))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("students_perf")
    return (root, *_data(root))


def _student(plugins, name: str, data: AnticipationData):
    cls = plugins.get("student", name)
    student = cls(build_config(cls.Config, {}, name))
    student.anticipation_index = data.anticipation_index
    student.input_info = {"layout": {"rgb": [0, DIM]}}
    student.feature_layout = student.input_info["layout"]
    return student


def _epoch(student, model, opt, loader) -> int:
    model.train()
    seen = 0
    for x, y in loader:
        loss = student.own_loss(model(x), y) if not student.needs_step_labels else student.own_loss(model(x), y, None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
    return seen


class _PerItem(torch.utils.data.Dataset):
    """Naive loading: every item opens a transaction and reads its frames one by one."""

    def __init__(self, path: Path, data: AnticipationData):
        lmdb_source.clear_cache()  # py-lmdb >= 2 allows one open handle per path and process
        self.path, self.env = str(path), None
        self.keys = [[frame_key(s.video, int(f)) for f in frames_of(data.obs_times(s))] for s in data.splits["train"]]
        self.y = [s.target.action for s in data.splits["train"]]

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, i):
        if self.env is None:
            self.env = lmdb.open(self.path, readonly=True, lock=False)
        with self.env.begin() as txn:
            x = np.stack([np.frombuffer(txn.get(k), dtype="<f4") for k in self.keys[i]])
        return torch.from_numpy(x.copy()), self.y[i]


@pytest.mark.parametrize("name", STUDENTS)
@pytest.mark.parametrize("loading", ["preloaded", "per-item"])
def test_student_training_throughput(benchmark, plugins, setup, name, loading):
    root, data, fs = setup
    torch.manual_seed(0)
    student = _student(plugins, name, data)
    model = student.build(DIM, CLASSES)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    y = torch.tensor([s.target.action for s in data.splits["train"]])
    tic = time.perf_counter()
    if loading == "preloaded":
        lmdb_source.clear_cache()
        x = torch.from_numpy(fs.load(data, "train"))
        preload_s = time.perf_counter() - tic
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    else:
        preload_s = 0.0
        loader = torch.utils.data.DataLoader(_PerItem(root / "rgb", data), batch_size=BATCH, shuffle=True)
    seen = benchmark.pedantic(_epoch, args=(student, model, opt, loader), rounds=2, iterations=1)
    benchmark.extra_info.update({
        "samples_per_s": round(seen / benchmark.stats.stats.mean),
        "preload_s": round(preload_s, 2), "parameters": sum(p.numel() for p in model.parameters()),
    })


MEMORY_SCRIPT = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from benchmark.plugin_manager import get_plugins
from tests.perf.test_perf_students import _data, _student, _epoch, DIM, CLASSES, BATCH
import torch
root, name = Path(sys.argv[1]), sys.argv[3]
data, fs = _data(root, write=False)
torch.manual_seed(0)
student = _student(get_plugins(), name, data)
model = student.build(DIM, CLASSES)
x = torch.from_numpy(fs.load(data, "train"))
y = torch.tensor([s.target.action for s in data.splits["train"]])
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=True)
_epoch(student, model, torch.optim.AdamW(model.parameters(), lr=1e-3), loader)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_rss_mb": round(peak / 1024, 1), "features_mb": round(x.numel() * 4 / 2**20, 1)}))
"""


@pytest.mark.parametrize("name", STUDENTS)
def test_student_peak_memory(benchmark, setup, name):
    """Peak resident memory of a fresh process that preloads the features (from the LMDB the
    fixture wrote) and trains one epoch."""
    root = setup[0]
    repo = Path(__file__).resolve().parents[2]

    def run():
        out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(root), str(repo), name],
                             capture_output=True, text=True, check=True, cwd=repo,
                             env={**__import__("os").environ, "BENCH_LOAD_PLUGINS": ""})
        return json.loads(out.stdout.strip().splitlines()[-1])

    info = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(info)
