"""Surviving faults: SIGKILL at any moment, two runners on one runs folder, stale locks, Ctrl-C,
time and memory budgets, mid-training checkpoints."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark import locks
from benchmark.errors import ConfigError
from benchmark.matrix import build_matrix, load_matrix
from benchmark.run import Runner

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "tests" / "plugin_files"
SMALL = {"dataset": {"synthetic": {"train_videos": 10, "val_videos": 4}}, "student": {"gru": {"hidden": 16}},
         "feature_source": {"simulated": {"dim": 16}}}


def write_matrix(path: Path, axes: dict, train: dict, components: dict = SMALL) -> Path:
    raw = {"name": "faults", "feature_source": "simulated", "metrics": ["top1_action", "top5_action"],
           "matrix": {"dataset": "synthetic", "student": "gru", **axes},
           "train": {"batch_size": 32, **train}, "components": components}
    path.write_text(json.dumps(raw))  # JSON is YAML
    return path


class Bench:
    """`bench run` of one matrix file in subprocesses, with the fault_probe test plugin."""

    def __init__(self, tmp: Path, matrix: Path, **env: str):
        self.tmp, self.matrix, self.runs = tmp, matrix, tmp / "runs"
        plugs = tmp / "plugs"
        plugs.mkdir(exist_ok=True)
        shutil.copy(FILES / "fault_probe.py", plugs)
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                    "FAULT_AUDIT": str(tmp / "audit.jsonl"), **env}
        self.args = [sys.executable, "-m", "benchmark.cli", "run", "--matrix", str(matrix), "--runs-dir",
                     str(self.runs), "--leaderboard-dir", str(tmp / "boards"), "--no-progress",
                     "--plugins-dir", str(plugs)]

    def start(self, *extra: str, stderr: Path | None = None, **env: str) -> subprocess.Popen:
        err = open(stderr, "w") if stderr else subprocess.PIPE
        try:
            # a job started in the background of a non-interactive shell (CI) inherits SIGINT
            # ignored, and Python then never raises KeyboardInterrupt: give the child Ctrl-C back
            return subprocess.Popen(self.args + list(extra), cwd=REPO, env={**self.env, **env},
                                    stdout=subprocess.PIPE, stderr=err, text=True,
                                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        finally:
            if stderr:
                err.close()

    def run(self, *extra: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
        proc = self.start(*extra, **env)
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def audit(self) -> list[dict]:
        path = self.tmp / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def records(self) -> dict[str, dict]:
        return {p.parent.name: json.loads(p.read_text()) for p in self.runs.glob("*/record.json")}


def wait_for(predicate, timeout: float = 60, step: float = 0.01):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


# -- SIGKILL ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_anything_and_each_cell_completes_once(tmp_path):
    matrix = write_matrix(tmp_path / "m.yaml", {"teacher": ["none", "ngram"], "loss": ["none", "kl"],
                                                "seed": [0, 1, 2]},
                          {"epochs": 6, "checkpoint_every_epochs": 1})
    bench = Bench(tmp_path, matrix)
    rng = random.Random(20230502)
    err = tmp_path / "stderr.txt"
    for attempt in range(6):
        proc = bench.start(stderr=err)
        if attempt:  # in the first or second cell of a run, between cells, or (last) in the leaderboard
            target = rng.randint(0, 1) if attempt < 5 else 6 - len(bench.records())
            wait_for(lambda: err.read_text().count("\n[") >= target or proc.poll() is not None)
            time.sleep(rng.uniform(0.0, 0.5))
        else:  # while starting up
            time.sleep(0.5)
        proc.kill()
        proc.communicate()
    done_before = sum(r["status"] == "ok" for r in bench.records().values())
    final = bench.run()
    assert final.returncode == 0, final.stderr
    assert f"6 cells, {6 - done_before} to run" in final.stderr

    records = bench.records()
    assert len(records) == 6 and all(r["status"] == "ok" for r in records.values())
    # A kill after a record is written and before its runner lets go of the cell (a millisecond
    # window) leaves that cell's lock, which then must be stale; only such a cell may also keep
    # its checkpoint or miss its completion event.
    leftover = {p.stem: locks.read_lock(p) for p in (bench.runs / "_locks").glob("*.lock")}
    assert all(locks.stale_reason(info, bench.runs / "_locks" / f"{rid}.lock", 600) for rid, info in leftover.items())
    completions = [a["run_id"] for a in bench.audit()]
    assert len(completions) == len(set(completions)), "a cell was completed twice"
    assert set(records) - set(completions) <= set(leftover)
    assert {p.parent.name for p in bench.runs.glob("*/checkpoint")} <= set(leftover), "a checkpoint outlived its record"

    from safetensors.numpy import load_file

    for path in bench.runs.rglob("*"):
        if path.is_dir() or any(part.startswith(".") for part in path.relative_to(bench.runs).parts):
            continue  # hidden files and folders are temporaries of interrupted atomic writes, never read
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".safetensors":
            load_file(str(path))
        elif path.suffix == ".jsonl":
            [json.loads(line) for line in path.read_text().splitlines()]
    for name in ("faults.md", "faults.csv"):
        assert (tmp_path / "boards" / name).read_text().strip()
    temporaries = [p for p in [*bench.runs.rglob("*"), *(tmp_path / "boards").rglob("*")] if ".tmp" in p.name]
    assert all(p.name.startswith(".") for p in temporaries), temporaries  # never taken for results


# -- locks --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_runners_on_one_runs_folder_split_the_cells(tmp_path):
    matrix = write_matrix(tmp_path / "m.yaml", {"seed": [0, 1, 2, 3, 4, 5]}, {"epochs": 2})
    ready = tmp_path / "ready"
    ready.mkdir()
    bench = Bench(tmp_path, matrix, FAULT_READY_DIR=str(ready), FAULT_CELL_SLEEP="0.2")
    procs = [bench.start("--no-leaderboard") for _ in range(2)]
    wait_for(lambda: len(list(ready.glob("ready-*"))) == 2)  # each runner holds a cell
    (ready / "go").touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    audit = bench.audit()
    assert sorted(a["run_id"] for a in audit) == sorted(bench.records()) and len(audit) == 6
    assert {a["pid"] for a in audit} == {p.pid for p in procs}, "both runners did some cells"
    stderr = "".join(err for _, err in outputs)
    assert "running_elsewhere" in stderr and "left to another runner" in stderr


def plan_one(plugins, tmp_path, **train):
    m = build_matrix({"matrix": {"dataset": "synthetic", "student": "gru"}, "train": {"epochs": 1, **train},
                      "components": {**SMALL, "dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}}}},
                     plugins)
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    return runner, m, runner.plan(m)[0]


def fake_lock(path: Path, pid: int, host: str | None = None, age_s: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "token": "x" * 32,
                                "started_at": "2023-05-02T00:00:00+00:00"}))
    if age_s:
        os.utime(path, (time.time() - age_s, time.time() - age_s))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_of_a_dead_process_is_taken_over(plugins, tmp_path):
    runner, m, job = plan_one(plugins, tmp_path)
    lock = runner.store.lock_path(job.run_id)
    fake_lock(lock, dead_pid())
    (record,) = runner.run(m, echo=lambda l: None).executed
    assert record["status"] == "ok"
    log = (runner.store.run_dir(job.run_id) / "log.rank0.txt").read_text()
    assert "took over a stale lock: its process" in log and "is gone" in log
    assert not lock.exists()


def test_a_live_lock_makes_the_runner_skip_the_cell(plugins, tmp_path):
    runner, m, job = plan_one(plugins, tmp_path)
    fake_lock(runner.store.lock_path(job.run_id), os.getppid())
    lines = []
    summary = runner.run(m, echo=lines.append)
    (result,) = summary.executed
    assert result["status"] == "running_elsewhere" and f"pid {os.getppid()}" in result["error"]
    assert summary.elsewhere == [result] and not summary.failed
    assert runner.store.status(job.run_id) == "pending"  # nothing was written
    assert "running_elsewhere" in lines[-1]


def test_a_cell_runs_under_a_lock_its_launcher_holds(plugins, tmp_path, monkeypatch):
    runner, m, job = plan_one(plugins, tmp_path)
    with runner.cell_lock(job.run_id) as parent:
        assert parent.acquire()
        monkeypatch.setenv(locks.INHERITED_ENV, parent.token)
        (record,) = runner.run(m, echo=lambda l: None).executed
        assert record["status"] == "ok"
        assert locks.read_lock(parent.path).token == parent.token  # still the launcher's
    assert not parent.path.exists()


def test_lock_heartbeat_timeout_and_unreadable_locks(tmp_path):
    path = tmp_path / "_locks" / "cell.lock"
    fake_lock(path, 1, host="another-host", age_s=30)  # another host: only the heartbeat tells
    assert not locks.CellLock(path, timeout_s=60).acquire()
    fake_lock(path, 1, host="another-host", age_s=120)
    taken = locks.CellLock(path, timeout_s=60)
    assert taken.acquire() and "no heartbeat for" in taken.broken
    assert locks.read_lock(path).token == taken.token
    assert not locks.CellLock(path, timeout_s=60).acquire()  # held by a live holder now
    taken.release()
    assert not path.exists()
    path.write_text('{"pid": 12')  # cut short: live for a grace period, then stale
    assert not locks.CellLock(path, timeout_s=600).acquire()
    os.utime(path, (time.time() - 100, time.time() - 100))
    with locks.CellLock(path, timeout_s=600) as again:
        assert again.acquire() and "unreadable" in again.broken


def test_heartbeat_keeps_a_lock_alive_and_breaking_never_steals_a_fresh_lock(tmp_path):
    path = tmp_path / "cell.lock"
    holder = locks.CellLock(path, timeout_s=1.0, heartbeat_s=0.05)
    assert holder.acquire()
    os.utime(path, (time.time() - 10, time.time() - 10))
    wait_for(lambda: time.time() - path.stat().st_mtime < 1.0, timeout=5)
    holder.release()
    # a runner that judged an old lock stale finds a new holder's lock in its place
    fake_lock(path, os.getpid(), age_s=0)
    stale = locks.read_lock(path)
    fresh = locks.CellLock(path)
    assert fresh.acquire() and fresh.broken  # this pid's lock, but not held by this process
    breaker = locks.CellLock(path)
    assert not breaker._break(stale)
    assert locks.read_lock(path).token == fresh.token
    fresh.release()


# -- Ctrl-C -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_leaves_the_running_cell_pending_and_reports_the_rest(plugins, tmp_path):
    matrix = write_matrix(tmp_path / "m.yaml", {"seed": [0, 1, 2, 3]}, {"epochs": 1})
    bench = Bench(tmp_path, matrix)
    pause = tmp_path / "paused"
    proc = bench.start(FAULT_PAUSE_SEED="1", FAULT_PAUSE_FILE=str(pause))
    wait_for(pause.exists)
    victim = pause.read_text()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)  # generous: the report is quick, a loaded CI machine is not
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C)" in err
    assert "finished (1):\n    synthetic/gru/none/none/seed0 ok" in err
    assert "interrupted, left pending (runs again next time) (1):\n    synthetic/gru/none/none/seed1" in err
    assert "not started (2):\n    synthetic/gru/none/none/seed2\n    synthetic/gru/none/none/seed3" in err
    assert not (bench.runs / victim / "record.json").exists()
    assert "interrupted (Ctrl-C)" in (bench.runs / victim / "log.rank0.txt").read_text()
    assert not list((bench.runs / "_locks").glob("*.lock"))
    status = {j.run_id: j.status for j in Runner(plugins, bench.runs).plan(load_matrix(str(matrix), plugins))}
    assert status[victim] == "pending" and sorted(status.values()) == ["ok", "pending", "pending", "pending"]


# -- budgets ------------------------------------------------------------------------------------


def test_time_budget_fails_the_cell(plugins, tmp_path):
    runner, m, _ = plan_one(plugins, tmp_path, time_budget_s=0.0001)
    (record,) = runner.run(m, echo=lambda l: None).executed
    assert record["status"] == "failed"
    assert record["error"].startswith("BudgetExceeded: time budget exceeded (")
    assert record["error"].endswith(" s > 0.0001 s)")


def test_memory_budget_fails_the_cell(plugins, tmp_path):
    runner, m, _ = plan_one(plugins, tmp_path, memory_budget_mb=1)
    (record,) = runner.run(m, echo=lambda l: None).executed
    assert record["status"] == "failed"
    assert record["error"].startswith("BudgetExceeded: memory budget exceeded (")
    assert "MB > 1 MB peak resident memory)" in record["error"]
    runner, m, _ = plan_one(plugins, tmp_path / "b", memory_budget_mb=1e6, time_budget_s=3600)
    (record,) = runner.run(m, echo=lambda l: None).executed
    assert record["status"] == "ok" and record["timings"]["peak_rss_mb"] > 1


def test_negative_budget_is_a_config_error(plugins, tmp_path):
    with pytest.raises(ConfigError, match=r"train.time_budget_s: expected >= 0, got -1"):
        plan_one(plugins, tmp_path, time_budget_s=-1)


# -- checkpoints --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_cell_resumes_from_its_checkpoint_and_ends_like_an_uninterrupted_one(tmp_path):
    components = {**SMALL, "dataset": {"synthetic": {"train_videos": 40, "val_videos": 6}}}
    train = {"epochs": 8, "checkpoint_every_epochs": 1, "batch_size": 16}
    matrix = write_matrix(tmp_path / "m.yaml", {}, train, components)
    (tmp_path / "whole").mkdir()
    (tmp_path / "cut").mkdir()
    whole, cut = Bench(tmp_path / "whole", matrix), Bench(tmp_path / "cut", matrix)

    proc, reference = cut.start("--no-leaderboard"), whole.start("--no-leaderboard")
    wait_for(lambda: list(cut.runs.glob("*/checkpoint/epoch-0002")), step=0.002)
    proc.kill()
    proc.communicate()
    _, err = reference.communicate(timeout=60)
    assert reference.returncode == 0, err
    (run_dir,) = [p for p in cut.runs.iterdir() if not p.name.startswith("_")]
    assert not (run_dir / "record.json").exists(), "the cell finished before the kill"
    k = max(int(p.name.split("-")[1]) for p in (run_dir / "checkpoint").glob("epoch-*"))

    resumed = cut.run("--no-leaderboard")
    assert resumed.returncode == 0, resumed.stderr
    log = (run_dir / "log.rank0.txt").read_text()
    assert f"resuming from checkpoint after epoch {k} of 8: continuing at epoch {k + 1}" in log
    (record,) = cut.records().values()
    (expected,) = whole.records().values()
    assert record["resumed_from_epoch"] == k
    assert record["metrics"] == expected["metrics"]
    assert record["epoch_losses"] == expected["epoch_losses"]
    assert not (run_dir / "checkpoint").exists()
    lines = [json.loads(line) for line in (run_dir / "losses.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in lines] == list(range(1, 9))
