"""The default matrix with the teacher cache against recomputing the teachers in every cell
(``--refit-teachers``), its own launcher (one single-thread cell per core) against ``inline``
(one cell at a time on every core), and the peak memory of each cell.

Run: BENCH_PERF=1 BENCH_DATA_DIR=../shared/data .venv/bin/python -m pytest tests/perf/test_perf_default_matrix.py \
     --benchmark-enable --benchmark-only

By default a reduced default matrix (EGTEA, teachers gpt2 and seq-gru, student avt, one epoch
for students and teachers: 5 cells) keeps the two variants to minutes. ``BENCH_PERF_FULL=1``
runs the whole default matrix instead (37 minutes with the cache on 2 cores, several
times that without). Each cell's timings and peak RSS go into the benchmark's ``extra_info``.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent"))
pytestmark = pytest.mark.skipif(not (DATA / "egtea").is_dir(), reason="annotation files not available")
REDUCED = [
    "matrix.dataset=[egtea]", "matrix.teacher=[none,gpt2,seq-gru]", "matrix.student=[avt]",
    "train.epochs=1", "components.teacher.gpt2.epochs=1", "components.teacher.seq-gru.epochs=1",
]
OVERRIDES = [] if os.environ.get("BENCH_PERF_FULL") else REDUCED


def _run(folder: Path, *extra: str) -> None:
    args = ["run", "--matrix", "default", "--runs-dir", folder / "runs", "--leaderboard-dir", folder / "lb",
            "--no-progress", *extra]
    for item in OVERRIDES:
        args += ["--set", item]
    res = subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "BENCH_DATA_DIR": str(DATA)})
    assert res.returncode == 0, res.stderr[-2000:]


def _cells(folder: Path) -> list[dict]:
    out = []
    for path in sorted((folder / "runs").glob("*/record.json")):
        r = json.loads(path.read_text())
        out.append({"cell": r["cell"]["label"], **r["timings"],
                    "teacher_reused": (r.get("teacher_cache") or {}).get("reused")})
    return out


@pytest.mark.parametrize("teachers,launcher", [("cache", "queue"), ("refit", "queue"), ("cache", "inline")])
def test_default_matrix(benchmark, tmp_path_factory, teachers, launcher):
    """The matrix from an empty runs folder; ``refit``: every cell fits its own teacher;
    ``queue``: the matrix's launcher (slots 0), ``inline``: one cell at a time in one process."""
    folders = []
    extra = (["--refit-teachers"] if teachers == "refit" else []) + (["--launcher", "inline"] if launcher == "inline" else [])

    def setup():
        folders.append(tmp_path_factory.mktemp(f"default-{teachers}-{launcher}"))
        return (folders[-1], *extra), {}

    benchmark.pedantic(_run, setup=setup, rounds=1, iterations=1)
    cells = _cells(folders[-1])
    benchmark.extra_info["cells"] = cells
    benchmark.extra_info["peak_rss_mb_max"] = max(c.get("peak_rss_mb") or 0 for c in cells)
    benchmark.extra_info["teacher_s_sum"] = round(sum(c.get("teacher_s", 0.0) for c in cells), 1)
