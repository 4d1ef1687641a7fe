"""Training throughput and peak memory of the published student presets on CPU: the suite's
loop (``train_and_evaluate``: batches cut from tensors held whole) against the loop it replaced
(an Accelerate-prepared shuffled ``DataLoader`` over a ``TensorDataset``, written out here with
the same model, optimiser and loss), side by side in one run.

* ``avt-epic55``: AVT-h EPIC-55 head (12 layers, 2,048 wide) on 2,048-d irCSN-152-sized
  features, 10 steps, 2,513 actions, batch 32 (its preset), 64 training samples;
* ``avt-egtea``: AVT-h EGTEA head (2 layers) on 1,024-d TSN-sized features, 10 steps, 106
  actions, batch 64, 1,024 samples;
* ``rulstm-paper``: RULSTM's published sizes (hidden 1,024) on 1,024-d features, 14 steps,
  2,513 actions, batch 128, 1,024 samples, trained as one joint stage without sequence-completion
  pretraining (``stages: joint``, ``sc_epochs: 0``) so that both loops run the same steps.

One epoch plus scoring 64 validation rows per round; samples/s = training samples / round
time. Peak memory is measured apart, in a fresh process per preset and loop (the benchmark
process keeps what earlier rounds allocated, so its peak would carry one preset's memory into
the next): the process's peak resident memory (``VmHWM``) over making the data and one round,
with its resident memory once the data are made.

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_student_presets.py --benchmark-enable \
    --benchmark-only --benchmark-columns=min,mean,rounds
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmark.config import build_config
from benchmark.matrix_types import TrainConfig
from benchmark.run.accelerators import make_accelerator
from benchmark.run.budget import peak_rss_mb
from benchmark.run.optim import make_optimizer
from benchmark.run.training import TrainData, TrainSettings, train_and_evaluate

PRESETS = {
    "avt-epic55": {"dim": 2048, "steps": 10, "classes": 2513, "samples": 64, "config": {}},
    "avt-egtea": {"dim": 1024, "steps": 10, "classes": 106, "samples": 1024, "config": {}},
    "rulstm-paper": {"dim": 1024, "steps": 14, "classes": 2513, "samples": 1024, "config": {"stages": "joint", "sc_epochs": 0}},
}
VAL = 64


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) / 1024.0 for line in fh if line.startswith("VmRSS:"))


def _setup(plugins, name: str):
    spec = PRESETS[name]
    cls = plugins.get("student", name)
    student = cls(build_config(cls.Config, spec["config"], name))
    student.anticipation_index = spec["steps"] - 1
    student.input_info = {"layout": {"rgb": [0, spec["dim"]]}}
    student.feature_layout = student.input_info["layout"]
    train = {**dataclasses.asdict(TrainConfig()), **cls.train_defaults, "epochs": 1, "cpu": True, "eval_batch_size": VAL}
    rng = np.random.default_rng(0)
    n, t, d, c = spec["samples"], spec["steps"], spec["dim"], spec["classes"]
    data = TrainData(rng.standard_normal((n, t, d), dtype=np.float32), rng.integers(0, c, n),
                     rng.standard_normal((VAL, t, d), dtype=np.float32), c, y_val=rng.integers(0, c, VAL),
                     step_train=rng.integers(0, c, (n, t)) if student.needs_step_labels else None)
    return student, train, data


def _suite_loop(student, train, data) -> int:
    from plugins.losses.none import NoDistill

    torch.manual_seed(0)
    settings = TrainSettings(train, 0, make_accelerator(train), logging.getLogger("perf"))
    result = train_and_evaluate(student, NoDistill(), data, settings)
    return len(data.y_train) * len(result.epoch_losses)


def _dataloader_loop(student, train, data) -> int:
    torch.manual_seed(0)
    acc = make_accelerator(train)
    model = student.build(data.x_train.shape[-1], data.num_classes)
    opt = make_optimizer([p for p in model.parameters() if p.requires_grad], train, float(train["lr"]))
    steps = data.step_train if data.step_train is not None else np.full((len(data.y_train), 1), -100)
    loader = DataLoader(TensorDataset(torch.from_numpy(data.x_train), torch.from_numpy(data.y_train).long(),
                                      torch.from_numpy(steps).long()),
                        batch_size=train["batch_size"], shuffle=True, generator=torch.Generator().manual_seed(0))
    model, opt, loader = acc.prepare(model, opt, loader)
    model.train()
    seen = 0
    for x, y, s in loader:
        out = model(x)
        value = student.own_loss(out, y, s) if student.needs_step_labels else student.own_loss(out, y)
        opt.zero_grad(set_to_none=True)
        acc.backward(value)
        opt.step()
        seen += len(y)
    model.eval()
    with torch.no_grad():
        for (x,) in DataLoader(TensorDataset(torch.from_numpy(data.x_val)), batch_size=VAL):
            model(x)["logits"].float().numpy()
    return seen


LOOPS = {"suite": _suite_loop, "dataloader": _dataloader_loop}


def measure_peak_memory(plugins, name: str, loop: str) -> dict:
    """Make the data and run one round in this process; meant for a fresh process."""
    student, train, data = _setup(plugins, name)
    after_setup = _rss_mb()
    LOOPS[loop](student, train, data)
    return {"rss_after_data_mb": round(after_setup, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}


MEMORY_SCRIPT = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import test_perf_student_presets as presets
from benchmark.plugin_manager import get_plugins
print(json.dumps(presets.measure_peak_memory(get_plugins(), sys.argv[3], sys.argv[4])))
"""


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_training_throughput(benchmark, plugins, name, loop):
    student, train, data = _setup(plugins, name)
    seen = benchmark.pedantic(LOOPS[loop], args=(student, train, data), rounds=1, iterations=1)
    assert seen == len(data.y_train)
    benchmark.extra_info["samples_per_s"] = round(seen / benchmark.stats.stats.min, 1)


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_peak_memory(benchmark, name, loop):
    here = Path(__file__).resolve().parent
    repo = here.parents[1]

    def run() -> dict:
        out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(repo), str(here), name, loop],
                             capture_output=True, text=True, check=True, cwd=repo, env=dict(os.environ))
        return json.loads(out.stdout.strip().splitlines()[-1])

    info = benchmark.pedantic(run, rounds=1, iterations=1)
    assert info["peak_rss_mb"] >= info["rss_after_data_mb"] > 0
    benchmark.extra_info.update(info)
