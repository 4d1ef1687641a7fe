"""Per-cell overhead of the launchers: one trivially small cell (synthetic data, 6 + 2 videos,
one epoch of the GRU student) run with ``--force`` through the runner, plus the leaderboard
update, with the time the cell itself spent (its ``timings.total_s``) subtracted.

Targets on 2 CPU cores: under 1 s inline, under 10 s with the process launcher (a fresh Python
that imports torch and the plugins, then the record read back). ``process-accelerate`` starts the
single-process cell through ``accelerate launch`` (``launch: accelerate``) instead of plain
``python``: the difference is the start-up of accelerate's command line.

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_launchers.py --benchmark-enable --benchmark-only
"""
from __future__ import annotations

import time

import pytest

from benchmark.report import write_matrix
from benchmark.matrix import build_matrix
from benchmark.plugin_manager import Plugins
from benchmark.run import Runner

RAW = {"matrix": {"dataset": "synthetic", "student": "gru"}, "train": {"epochs": 1},
       "components": {"dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}}}}
TARGET_S = {"inline": 1.0, "process": 10.0, "process-accelerate": 10.0}
OPTIONS = {"process-accelerate": {"launch": "accelerate"}}


@pytest.mark.parametrize("launcher", list(TARGET_S))
def test_per_cell_overhead(benchmark, tmp_path, launcher):
    plugins = Plugins([])
    matrix = build_matrix(RAW, plugins)
    runner = Runner(plugins, tmp_path / "runs", launcher=launcher.split("-")[0], progress=False)
    options = OPTIONS.get(launcher, {})
    runner.run(matrix, echo=lambda line: None, launcher_options=options)  # warm-up (inline: data cached)
    overheads: list[float] = []

    def one_cell() -> None:
        tic = time.perf_counter()
        summary = runner.run(matrix, force=True, echo=lambda line: None, launcher_options=options)
        write_matrix(plugins, runner, matrix, tmp_path / "lb", "bench run")
        wall = time.perf_counter() - tic
        record = summary.executed[0]
        assert record["status"] == "ok", record.get("error")
        overheads.append(wall - float(record["timings"]["total_s"]))

    benchmark.pedantic(one_cell, rounds=3, iterations=1)
    benchmark.extra_info["overhead_s"] = [round(o, 3) for o in overheads]
    benchmark.extra_info["target_s"] = TARGET_S[launcher]
    print(f"{launcher}: per-cell overhead {min(overheads):.2f}-{max(overheads):.2f} s (target < {TARGET_S[launcher]} s)")
