"""The state of a matrix read from the runs folder, and `bench status`, with one cell finished,
one failed, one running in another process and one pending."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time

import pytest

from benchmark.cli import main
from benchmark.matrix import build_matrix
from benchmark.monitor import read_state
from benchmark.run import Runner

MATRIX = "name: four\nmatrix: {dataset: synthetic, student: gru, seed: [0, 1, 2, 3]}\ntrain: {epochs: 1}\n"

HOLDER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from benchmark.locks import CellLock
    from benchmark.progress import Progress, ProgressFile
    lock_path, run_dir, run_id, t0 = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    lock = CellLock(lock_path)
    assert lock.acquire()
    clock = lambda: t0
    sink = ProgressFile(run_dir / "progress.json", run_id, "a cell", clock=clock, every_s=0.0)
    progress = Progress([sink], clock=clock)
    progress.start("student training", total=100)
    progress.stage.done = 25
    progress.detail("epoch 1/4")
    print("ready", flush=True)
    time.sleep(120)
''')


@pytest.fixture
def four(plugins, tmp_path):
    import yaml

    path = tmp_path / "four.yaml"
    path.write_text(MATRIX)
    matrix = build_matrix(yaml.safe_load(MATRIX), plugins, path)
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    jobs = runner.plan(matrix)
    done, failed, running, pending = jobs
    runner.store.prepare(done.run_id, done.identity)
    runner.store.write_record(done.run_id, {"status": "ok", "timings": {"total_s": 40.0, "train_eval_s": 30.0}})
    runner.store.prepare(failed.run_id, failed.identity)
    runner.store.write_record(failed.run_id, {"status": "failed", "error": "ValueError: boom",
                                              "timings": {"total_s": 3.0}})
    run_dir = runner.store.prepare(running.run_id, running.identity)
    t0 = time.time() - 20.0
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(runner.store.lock_path(running.run_id)), str(run_dir),
                              running.run_id, str(t0)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        yield runner, jobs, child, t0, path
    finally:
        child.kill()
        child.wait()


def test_state_of_finished_failed_running_elsewhere_and_pending(four):
    runner, jobs, child, t0, _ = four
    state = read_state("four", jobs, runner.store, now=t0 + 20.0)
    assert [c.status for c in state.cells] == ["done", "failed", "running", "pending"]
    assert state.counts() == {"done": 1, "running": 1, "failed": 1, "pending": 1}
    failed, running = state.cells[1], state.cells[2]
    assert failed.reason == "ValueError: boom"
    assert running.holder.pid == child.pid and running.snapshot.pid == child.pid
    assert running.where() == f"pid {child.pid} on {socket.gethostname()}"
    # the running cell: 75 steps left at 20 s / 25 steps; the pending one: the finished cell's 40 s
    assert state.cell_eta_s(running) == pytest.approx(75 * 20 / 25)
    assert state.eta_s() == pytest.approx(75 * 20 / 25 + 40.0)
    assert not state.complete


def test_bench_status_lists_every_cell_with_where_it_stands(four, capsys):
    runner, jobs, child, t0, path = four
    assert main(["status", "--matrix", str(path), "--runs-dir", str(runner.store.root)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("matrix 'four': 1/4 done, 1 running, 1 failed, 1 pending, ETA ~")
    rows = {line.split()[0]: line for line in lines[3:]}
    assert f"pid {child.pid} on {socket.gethostname()}" in rows["running"]
    assert "student training, epoch 1/4, 25/100 steps (25%)" in rows["running"] and "heartbeat" in rows["running"]
    assert "ValueError: boom" in rows["failed"]
    assert "40.0s" in rows["done"] and jobs[3].cell.label in rows["pending"]
    # the order: running, failed, pending, done
    assert [line.split()[0] for line in lines[3:]] == ["running", "failed", "pending", "done"]


def test_a_lock_whose_process_is_gone_counts_as_pending(four):
    runner, jobs, child, t0, _ = four
    child.kill()
    child.wait()
    state = read_state("four", jobs, runner.store)
    cell = state.cells[2]
    assert cell.status == "pending" and cell.reason.startswith("stale lock: its process")
