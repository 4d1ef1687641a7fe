"""Speed of the core, measured with pytest-benchmark (not asserted).

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf --benchmark-enable --benchmark-only
"""
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.matrix import load_matrix
from benchmark.plugin_manager import Plugins


def _bench(*args):
    res = subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_bench_plugins_command(benchmark):
    """`bench plugins` in a fresh process (target: under 2 s)."""
    benchmark.pedantic(_bench, args=("plugins",), rounds=5, iterations=1)


def test_smoke_matrix_from_scratch(benchmark, tmp_path_factory):
    """`bench run --matrix smoke` in a fresh process, empty runs folder (target: under 60 s)."""

    def setup():
        d = tmp_path_factory.mktemp("smoke")
        return ("run", "--matrix", "smoke", "--runs-dir", d / "runs", "--leaderboard-dir", d / "lb",
                "--no-progress"), {}

    benchmark.pedantic(_bench, setup=setup, rounds=3, iterations=1)


def test_smoke_matrix_all_cells_recorded(benchmark, tmp_path):
    """A second `bench run --matrix smoke`: every cell skipped, leaderboard rebuilt."""
    args = ("run", "--matrix", "smoke", "--runs-dir", tmp_path / "runs", "--leaderboard-dir", tmp_path / "lb",
            "--no-progress")
    _bench(*args)
    benchmark.pedantic(_bench, args=args, rounds=3, iterations=1)


def test_plugin_discovery_in_process(benchmark):
    benchmark(Plugins, [])


@pytest.mark.parametrize("seeds", [1, 10])
def test_matrix_expansion(benchmark, seeds):
    plugins = Plugins([])
    overrides = [f"matrix.seed={list(range(seeds))}"]
    benchmark(load_matrix, "smoke", plugins, overrides)
