"""Annotation loading speed (target: EPIC-55 annotations and all samples under 5 s).

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_datasets.py --benchmark-enable --benchmark-only
"""
import os
from pathlib import Path

import pytest

from plugins.datasets.egtea import EGTEA
from plugins.datasets.epic55 import EPIC55, EPIC55Config
from plugins.features.simulated import SimulatedFeatures

DATA = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent"))
pytestmark = pytest.mark.skipif(not (DATA / "epic55").is_dir(), reason="annotation files not available")


@pytest.mark.parametrize("sampling", ["avt", "rulstm"])
def test_load_epic55(benchmark, sampling):
    data = benchmark(EPIC55(EPIC55Config(sampling=sampling)).load, DATA)
    benchmark.extra_info["samples"] = sum(len(v) for v in data.splits.values())


def test_load_egtea(benchmark):
    benchmark(EGTEA().load, DATA)


def test_simulated_features_epic55_val(benchmark):
    data = EPIC55().load(DATA)
    x = benchmark.pedantic(SimulatedFeatures().load, args=(data, "val"), rounds=3, iterations=1)
    benchmark.extra_info["frames_per_s"] = x.shape[0] * x.shape[1] / benchmark.stats.stats.mean
