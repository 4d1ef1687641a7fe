"""Launchers: a cell per process (crash isolation, time budgets), a queue of processes, two-rank
data parallelism on CPU (gloo), and SLURM jobs through submitit's local executor."""
import json
import shutil
from pathlib import Path

import pytest

from benchmark.errors import ConfigError
from benchmark.matrix import build_matrix
from benchmark.plugin_manager import Plugins
from benchmark.run import Runner

FILES = Path(__file__).parents[1] / "plugin_files"
TINY = {"synthetic": {"train_videos": 6, "val_videos": 2}}  # 174 train, 58 val samples


def _plugins(tmp_path):
    d = tmp_path / "plugs"
    d.mkdir(exist_ok=True)
    shutil.copy(FILES / "launcher_students.py", d)
    return Plugins([d])


def _matrix(plugins, students, seeds=(0,), students_cfg=None):
    return build_matrix({"matrix": {"dataset": "synthetic", "student": list(students), "seed": list(seeds)},
                         "train": {"epochs": 1},
                         "components": {"dataset": TINY, "student": students_cfg or {}}}, plugins)


def _run(plugins, tmp_path, matrix, launcher, force=False, **options):
    runner = Runner(plugins, tmp_path / "runs", launcher=launcher, progress=False)
    summary = runner.run(matrix, force=force, echo=lambda line: None, launcher_options=options)
    return runner, {r["cell"]["student"] + f"/{r['cell']['seed']}": r for r in summary.executed}


def _on_disk(runner, record):
    return runner.store.read_record(record["run_id"])


def _no_locks_left(tmp_path):
    return not list((tmp_path / "runs" / "_locks").glob("*.lock"))


# ----------------------------------------------------------------------------- configuration


def test_launcher_options_are_checked(plugins, tmp_path):
    m = _matrix(plugins, ["gru"])
    runner = Runner(plugins, tmp_path / "runs", launcher="process", progress=False)
    with pytest.raises(ConfigError, match="--launcher process: unknown key 'slots'"):
        runner.run(m, echo=lambda line: None, launcher_options={"slots": 2})
    with pytest.raises(ConfigError, match=r"--launcher process.num_processes: expected >= 1, got 0"):
        runner.make_launcher({"num_processes": 0})
    inline = Runner(plugins, tmp_path / "runs", progress=False)
    with pytest.raises(ConfigError, match="--launcher inline: unknown key 'num_processes'"):
        inline.make_launcher({"num_processes": 2})
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_worker_commands_and_gpu_slots(plugins, tmp_path, monkeypatch):
    from plugins.launchers.process import describe_exit, worker_command

    single = worker_command(Path("job.json"))
    assert single[1:] == ["-m", "benchmark.run.worker", "job.json"]
    multi = worker_command(Path("job.json"), num_processes=2, port=12345)
    assert multi[1:3] == ["-m", "accelerate.commands.launch"] and "--cpu" not in multi
    assert multi[multi.index("--num_processes") + 1] == "2" and "--multi_gpu" in multi
    assert multi[multi.index("--main_process_port") + 1] == "12345"
    assert multi[-3:] == ["-m", "benchmark.run.worker", "job.json"]

    runner = Runner(plugins, tmp_path / "runs", launcher="queue", progress=False)
    four = runner.make_launcher({"gpus": [0, 1, 2, 3], "num_processes": 2}).slots()
    assert [s["CUDA_VISIBLE_DEVICES"] for s in four] == ["0,1", "2,3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    assert [s["CUDA_VISIBLE_DEVICES"] for s in runner.make_launcher({}).slots()] == ["5", "7"]
    cpu = runner.make_launcher({"cpu": True, "slots": 3}).slots()
    assert len(cpu) == 3 and all(s["CUDA_VISIBLE_DEVICES"] == "" for s in cpu)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    auto = runner.make_launcher({"cpu": True, "slots": 0}).slots()  # one per core, memory permitting
    from plugins.launchers.gpu_queue import auto_slots

    assert len(auto) == auto_slots() >= 1 and all(s["OMP_NUM_THREADS"] == str(4 // len(auto)) for s in auto)
    assert auto_slots(gib_per_rank=1e-6) == 4 and auto_slots(num_processes=2, gib_per_rank=1e-6) == 2
    assert auto_slots(gib_per_rank=1e9) == 1
    with pytest.raises(ConfigError, match=r"--launcher queue.slots: expected >= 0, got -1"):
        runner.make_launcher({"cpu": True, "slots": -1})
    with pytest.raises(ConfigError, match="needs 2 GPUs per cell, only 1"):
        runner.make_launcher({"gpus": ["0"], "num_processes": 2}).slots()

    assert describe_exit(-11, []) == "killed by signal SIGSEGV"
    assert describe_exit(1, ["subprocess.CalledProcessError: Command '[...]' returned non-zero exit status 3."]) \
        == "exited with code 1 (a rank exited with code 3)"


def test_worker_rejects_a_bad_job_file(tmp_path, capsys):
    from benchmark.run.worker import main

    (tmp_path / "job.json").write_text("{not json")
    assert main([str(tmp_path / "job.json")]) == 2
    assert "not a JSON job file" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.json")]) == 2


def test_planned_job_files_run_in_a_worker(plugins, tmp_path, capsys):
    """``python -m benchmark.run.worker plan`` writes the job files ``bench run`` would run; the worker
    rebuilds the cell from one and records it under the run id it was planned with."""
    from benchmark.run import worker

    (tmp_path / "m.yaml").write_text(
        "matrix: {dataset: synthetic, student: gru, seed: [0, 1]}\ntrain: {epochs: 1}\n"
        "components: {dataset: {synthetic: {train_videos: 6, val_videos: 2}}}\n")
    args = ["plan", "--matrix", str(tmp_path / "m.yaml"), "--runs-dir", str(tmp_path / "runs"), "--only", "seed=1"]
    assert worker.main(args) == 0
    files = capsys.readouterr().out.split()
    assert len(files) == 1 and files[0].endswith("job.json")
    assert worker.main([files[0]]) == 0
    assert ": student training, " in capsys.readouterr().out  # a worker prints its cell's stages (its log)
    record = json.loads((Path(files[0]).parent / "record.json").read_text())
    planned = Runner(plugins, tmp_path / "other", progress=False).plan(
        build_matrix({"matrix": {"dataset": "synthetic", "student": "gru", "seed": 1}, "train": {"epochs": 1},
                      "components": {"dataset": TINY}}, plugins))
    assert record["status"] == "ok" and record["run_id"] == planned[0].run_id
    assert record["cell"]["seed"] == 1 and record["metrics"]["top1_action"] >= 0
    assert worker.main(args) == 0 and capsys.readouterr().out == ""  # recorded: nothing left to plan


def test_cli_launcher_options(tmp_path, capsys):
    from benchmark.cli import main

    base = ["run", "--matrix", "smoke", "--runs-dir", str(tmp_path / "runs"), "--no-leaderboard"]
    assert main(base + ["--processes", "2"]) == 2
    assert "--launcher inline: unknown key 'num_processes'" in capsys.readouterr().err
    assert main(base + ["--launcher", "queue", "--launcher-set", "slotz=2"]) == 2
    assert "Did you mean 'slots'" in capsys.readouterr().err
    assert main(base + ["--launcher", "process", "--launcher-set", "timeout_s"]) == 2
    assert "--launcher-set 'timeout_s': expected KEY=VALUE" in capsys.readouterr().err
    assert main(base + ["--launcher", "submitit", "--launcher-set", "executor=pbs", "--dry-run"]) == 2
    assert "executor: expected one of 'slurm', 'local', 'debug'" in capsys.readouterr().err
    assert main(base + ["--launcher", "queue", "--slots", "2", "--gpus", "0,1", "--dry-run"]) == 0


# ----------------------------------------------------------------------------- process


@pytest.mark.slow
def test_process_launcher_isolates_a_crashing_cell(tmp_path):
    plugins = _plugins(tmp_path)
    runner, records = _run(plugins, tmp_path, _matrix(plugins, ["exit-student", "gru"]), "process")
    bad, good = records["exit-student/0"], records["gru/0"]
    assert good["status"] == "ok" and good["metrics"]["top1_action"] >= 0
    assert _on_disk(runner, good)["metrics"] == good["metrics"]
    assert bad["status"] == "failed"
    assert bad["error"].startswith("worker exited with code 3 without writing a record"), bad["error"]
    assert bad["worker"]["returncode"] == 3 and bad["worker"]["log_tail"]
    assert _on_disk(runner, bad)["error"] == bad["error"]
    run_dir = tmp_path / "runs" / bad["run_id"]
    assert {"job.json", "worker.log", "record.json", "log.rank0.txt"} <= {p.name for p in run_dir.iterdir()}
    spec = json.loads((run_dir / "job.json").read_text())
    assert spec["cell"]["student"] == "exit-student" and spec["plugins_dirs"] == [str((tmp_path / "plugs").resolve())]
    assert _no_locks_left(tmp_path)


@pytest.mark.slow
def test_process_launcher_kills_a_cell_over_its_time_budget(tmp_path):
    plugins = _plugins(tmp_path)
    runner, records = _run(plugins, tmp_path, _matrix(plugins, ["sleep-student"]), "process", timeout_s=1.5)
    rec = records["sleep-student/0"]
    assert rec["status"] == "failed" and rec["error"].startswith("time budget exceeded (timeout_s=1.5)")
    assert rec["worker"]["timed_out"] and rec["timings"]["total_s"] < 30
    assert _on_disk(runner, rec)["status"] == "failed" and _no_locks_left(tmp_path)


# ----------------------------------------------------------------------------- queue


@pytest.mark.slow
def test_queue_runs_three_cells_two_at_a_time(plugins, tmp_path):
    m = _matrix(plugins, ["gru"], seeds=(0, 1, 2))
    runner, records = _run(plugins, tmp_path, m, "queue", slots=2, cpu=True)
    assert sorted(records) == ["gru/0", "gru/1", "gru/2"]
    assert all(r["status"] == "ok" for r in records.values())
    runs = tmp_path / "runs"
    started = sorted((runs / r["run_id"] / "job.json").stat().st_mtime_ns for r in records.values())
    ended = sorted((runs / r["run_id"] / "record.json").stat().st_mtime_ns for r in records.values())
    assert started[1] < ended[0]  # two cells were started before any finished
    assert started[2] >= ended[0]  # the third waited for a free slot
    log = (runs / records["gru/0"]["run_id"] / "worker.log").read_text()
    assert log.startswith("$ ") and "benchmark.run.worker" in log


# ----------------------------------------------------------------------------- data parallel


@pytest.mark.slow
def test_two_gloo_ranks_give_the_metrics_of_one_process(plugins, tmp_path):
    """Two ranks on CPU take every other batch of one shared shuffle and average their gradients,
    so a step covers 2 x batch_size samples: the same cell trains differently on 2 ranks. Hence:
    a fixed model (lr 0) scores the same over 2 ranks as in one process (uneven val batches
    gathered), and 2 ranks with batch 3 train exactly like one process with batch 6 (no dropout).
    Both 2-rank cells run at once through the queue (two rendezvous ports)."""
    students = {
        "frozen": {"use": "gru", "train": {"lr": 0.0, "batch_size": 6, "eval_batch_size": 8}},
        "half": {"use": "gru", "dropout": 0.0, "train": {"batch_size": 3, "eval_batch_size": 8}},
        "full": {"use": "gru", "dropout": 0.0, "train": {"batch_size": 6, "eval_batch_size": 8}},
    }
    one = Runner(plugins, tmp_path / "one", progress=False).run(
        _matrix(plugins, ["frozen", "full"], students_cfg=students), echo=lambda line: None)
    single = {r["cell"]["student"]: r for r in one.executed}
    _, two = _run(plugins, tmp_path, _matrix(plugins, ["frozen", "half"], students_cfg=students), "queue",
                  num_processes=2, slots=2, cpu=True)
    for rec in two.values():
        assert rec["status"] == "ok", rec.get("error")
        assert rec["env"]["num_processes"] == 2 and rec["env"]["distributed_type"] == "DistributedType.MULTI_CPU"
        run_dir = tmp_path / "runs" / rec["run_id"]
        assert (run_dir / "log.rank0.txt").exists() and (run_dir / "log.rank1.txt").exists()
        assert "--multi_gpu" in (run_dir / "worker.log").read_text().splitlines()[0]
    assert two["frozen/0"]["metrics"] == single["frozen"]["metrics"]
    assert two["half/0"]["metrics"] == single["full"]["metrics"]


# ----------------------------------------------------------------------------- submitit


@pytest.mark.slow
def test_submitit_local_executor_runs_a_small_matrix(tmp_path):
    pytest.importorskip("submitit")
    plugins = _plugins(tmp_path)
    runner, records = _run(plugins, tmp_path, _matrix(plugins, ["gru", "exit-student"]), "submitit",
                           executor="local", folder=str(tmp_path / "slurm"), poll_s=0.2)
    assert records["gru/0"]["status"] == "ok" and _on_disk(runner, records["gru/0"])["status"] == "ok"
    bad = records["exit-student/0"]
    assert bad["status"] == "failed" and "ended without writing a record" in bad["error"]
    assert any((tmp_path / "slurm").rglob("*_log.out")) and _no_locks_left(tmp_path)


def test_a_launcher_without_its_runner_says_so():
    from benchmark.config import build_config
    from benchmark.errors import ConfigError
    from benchmark.plugin_manager import get_plugins

    cls = get_plugins().get("launcher", "process")
    launcher = cls(build_config(cls.Config, {}, "test"))
    assert launcher.runner is None  # declared on benchmark.api.Launcher, set by Runner.run
    with pytest.raises(ConfigError, match="launcher 'process' runs cells in other processes: set its runner"):
        list(launcher.launch([object()], lambda job: {}))
