"""Test isolation: no third-party plugins from the environment, no network, shared data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["BENCH_LOAD_PLUGINS"] = ""  # built-ins only, unless a test says otherwise
os.environ.pop("BENCH_PLUGINS_DIR", None)
os.environ.pop("BENCH_DISABLE_PLUGINS", None)
if "BENCH_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["BENCH_DATA_DIR"] = str(SHARED_DATA)


# Performance benchmarks (pytest-benchmark) are not part of the test run; see docs/performance.md.
collect_ignore = [] if os.environ.get("BENCH_PERF") else ["perf"]


@pytest.fixture
def plugins():
    from benchmark.plugin_manager import get_plugins

    return get_plugins()
