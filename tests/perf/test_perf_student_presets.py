"""Training throughput and peak memory of the published student presets on CPU: the suite's
loop (``train_and_evaluate``: batches cut from tensors held whole) against the loop it replaced
(an Accelerate-prepared shuffled ``DataLoader`` over a ``TensorDataset``, written out here with
the same model, optimiser and loss), side by side in one run.

* ``avt-epic55``: AVT-h EPIC-55 head (12 layers, 2,048 wide) on 2,048-d irCSN-152-sized
  features, 10 steps, 2,513 actions, batch 32 (its preset), 64 training samples;
* ``avt-egtea``: AVT-h EGTEA head (2 layers) on 1,024-d TSN-sized features, 10 steps, 106
  actions, batch 64, 1,024 samples;
* ``rulstm-paper``: RULSTM's published sizes (hidden 1,024) on 1,024-d features, 14 steps,
  2,513 actions, batch 128, 1,024 samples, trained as one joint stage (``stages: joint``) so
  that both loops run the same steps.

One epoch plus scoring 64 validation rows per round; samples/s = training samples / round
time. Peak memory: the process's peak resident memory during the round (``VmHWM`` after a reset
at its start), with the resident memory at its start.

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_student_presets.py --benchmark-enable \
    --benchmark-only --benchmark-columns=min,mean,rounds
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmark.config import build_config
from benchmark.matrix_types import TrainConfig
from benchmark.run.accelerators import make_accelerator
from benchmark.run.budget import peak_rss_mb, reset_peak_rss
from benchmark.run.optim import make_optimizer
from benchmark.run.training import TrainData, TrainSettings, train_and_evaluate

PRESETS = {
    "avt-epic55": {"dim": 2048, "steps": 10, "classes": 2513, "samples": 64, "config": {}},
    "avt-egtea": {"dim": 1024, "steps": 10, "classes": 106, "samples": 1024, "config": {}},
    "rulstm-paper": {"dim": 1024, "steps": 14, "classes": 2513, "samples": 1024, "config": {"stages": "joint"}},
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


@pytest.mark.parametrize("loop", ["suite", "dataloader"])
@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_training_throughput_and_peak_memory(benchmark, plugins, name, loop):
    student, train, data = _setup(plugins, name)
    run = _suite_loop if loop == "suite" else _dataloader_loop

    def one_round() -> int:
        benchmark.extra_info["rss_at_start_mb"] = round(_rss_mb(), 1)
        reset_peak_rss()
        seen = run(student, train, data)
        benchmark.extra_info["peak_rss_mb"] = round(peak_rss_mb(), 1)
        return seen

    seen = benchmark.pedantic(one_round, rounds=1, iterations=1)
    assert seen == len(data.y_train)
    benchmark.extra_info["samples_per_s"] = round(seen / benchmark.stats.stats.min, 1)
