"""Cells as SLURM jobs through submitit: one array job per ``bench run``, one task per cell,
each running the job file of its cell (see :mod:`benchmark.run.worker`). ``bench run`` waits and
yields each record as its job ends; a job that ends without one (out of time, out of memory,
node failure) gets a failed record with its SLURM state and the end of its log. The submitting
process holds the lock of every submitted cell until its job ends; Ctrl-C cancels the jobs that
have not ended (their cells stay pending).

A cell may span several GPUs and nodes: each node of the job then starts
``accelerate launch --multi_gpu --num_machines N --machine_rank R ...`` on the worker, with the
first node of the allocation as the rendezvous host.

``executor: local`` runs the same jobs as local processes (no SLURM needed: tests, a workstation);
``executor: debug`` runs them in this process, one after the other, for stepping through a cell
with a debugger (no crash isolation there).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from benchmark.api import Launcher
from benchmark.errors import ConfigError
from benchmark.settings import setting

from .process import runner_of


def _rendezvous_port(job_id: str) -> int:
    """The same port on every node of a job, different between jobs (20000-39999)."""
    return 20000 + int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % 20000


def run_cluster_job(job_file: str, num_processes: int = 1, mixed_precision: str = "no") -> str:
    """What each task of a submitted job runs (on every node of it): the cell of ``job_file``, in
    this process when it has one rank, else under ``accelerate launch``. Returns the status."""
    import submitit

    env = submitit.JobEnvironment()
    if env.num_nodes == 1 and num_processes == 1:
        from benchmark.run.worker import run_job_file

        return run_job_file(job_file)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_processes", str(env.num_nodes * num_processes), "--num_machines", str(env.num_nodes),
           "--machine_rank", str(env.node), "--main_process_ip", env.hostnames[0],
           "--main_process_port", str(_rendezvous_port(str(env.job_id))),
           "--mixed_precision", mixed_precision, "--dynamo_backend", "no",
           "-m", "benchmark.run.worker", job_file]
    code = subprocess.run(cmd, check=False).returncode
    return "ok" if code == 0 else f"failed (exit code {code})"


class SubmititLauncher(Launcher):
    name = "submitit"
    version = "1"
    description = "one SLURM job per cell (job array) through submitit; executor local/debug for tests"

    @dataclass
    class Config:
        #: submitit's folder (scripts, pickled calls, logs); empty: <runs dir>/_submitit
        folder: str = ""
        executor: Literal["slurm", "local", "debug"] = "slurm"
        partition: str = ""
        timeout_min: int = setting(60, ge=1)
        nodes: int = setting(1, ge=1)
        gpus_per_node: int = setting(0, ge=0)
        #: ranks per node of a cell (data parallel); 0: gpus_per_node, or 1 without GPUs
        num_processes: int = setting(0, ge=0)
        cpus_per_task: int = setting(4, ge=1)
        mem_gb: float = setting(0.0, ge=0.0)  # 0: the partition's default
        #: most cells of the array running at once
        array_parallelism: int = setting(64, ge=1)
        mixed_precision: Literal["no", "fp16", "bf16"] = "no"
        job_name: str = "bench"
        #: shell lines run before each job (e.g. ``source .venv/bin/activate``); SLURM only
        setup: list[str] = field(default_factory=list)
        #: further sbatch options, e.g. ``{"account": "proj", "qos": "normal", "constraint": "a100"}``
        slurm_args: dict[str, Any] = field(default_factory=dict)
        #: seconds between checks of the jobs' states (0: 5 s for SLURM, 0.2 s otherwise)
        poll_s: float = setting(0.0, ge=0.0)

    @property
    def ranks_per_node(self) -> int:
        return self.config.num_processes or max(1, self.config.gpus_per_node)

    def executor(self, folder: Path) -> Any:
        import submitit

        cfg = self.config
        executor = submitit.AutoExecutor(folder=str(folder), cluster=cfg.executor)
        params: dict[str, Any] = {
            "name": cfg.job_name, "timeout_min": cfg.timeout_min, "nodes": cfg.nodes, "tasks_per_node": 1,
            "cpus_per_task": cfg.cpus_per_task, "slurm_array_parallelism": cfg.array_parallelism,
        }
        if cfg.gpus_per_node:
            params["gpus_per_node"] = cfg.gpus_per_node
        if cfg.mem_gb:
            params["mem_gb"] = cfg.mem_gb
        if cfg.partition:
            params["slurm_partition"] = cfg.partition
        if cfg.setup:
            params["slurm_setup"] = list(cfg.setup)
        if cfg.slurm_args:
            params["slurm_additional_parameters"] = dict(cfg.slurm_args)
        try:
            executor.update_parameters(**params)
        except (NameError, ValueError, AssertionError) as exc:
            raise ConfigError(f"launcher submitit: {str(exc).splitlines()[0]}") from None
        return executor

    def launch(self, jobs: Iterable[Any], execute: Callable[[Any], dict]) -> Iterator[dict]:
        from benchmark.run.worker import lock_cell, write_job_file

        runner = runner_of(self)
        cfg = self.config
        folder = Path(cfg.folder) if cfg.folder else Path(runner.store.root) / "_submitit"
        executor = self.executor(folder.resolve() / "%j")
        # this process holds the lock of every submitted cell until its job ends
        locked: list[tuple[Any, Any]] = []
        for job in jobs:
            lock, result = lock_cell(runner, job)
            if result is not None:
                yield result
            else:
                locked.append((job, lock))
        waiting: list[tuple[Any, Any, Any]] = []
        try:
            if not locked:
                return
            files = [str(write_job_file(runner, job, lock_token=lock.token)) for job, lock in locked]
            started = datetime.now(timezone.utc)
            try:
                submitted = executor.map_array(run_cluster_job, files, [self.ranks_per_node] * len(files),
                                               [cfg.mixed_precision] * len(files))
            except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
                raise ConfigError(f"launcher submitit: submitting to '{cfg.executor}' failed: "
                                  f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                                  "(executor local runs the jobs on this machine)") from None
            waiting = [(job, lock, sjob) for (job, lock), sjob in zip(locked, submitted)]
            locked = []
            poll = cfg.poll_s or (5.0 if cfg.executor == "slurm" else 0.2)
            while waiting:
                still = []
                for job, lock, sjob in waiting:
                    if not sjob.done():
                        still.append((job, lock, sjob))
                        continue
                    try:
                        record = self._record(runner, job, sjob, started)
                    finally:
                        if lock is not None:
                            lock.release()
                    yield record
                waiting = still
                if waiting:
                    time.sleep(poll)
        finally:
            for _, lock in locked:
                if lock is not None:
                    lock.release()
            for _, lock, sjob in waiting:  # interrupted: unfinished jobs are cancelled, their cells stay pending
                try:
                    sjob.cancel(check=False)
                except Exception:
                    pass
                if lock is not None:
                    lock.release()

    def _record(self, runner: Any, job: Any, sjob: Any, started: datetime) -> dict[str, Any]:
        from benchmark.run.worker import log_tail, record_failure

        record = runner.store.read_record(job.run_id)
        if record is not None:
            return record
        state = str(getattr(sjob, "state", "UNKNOWN"))
        paths = getattr(sjob, "paths", None)
        stderr = Path(paths.stderr) if paths is not None else None
        tail = log_tail(stderr) if stderr is not None else []
        reason = "time budget exceeded" if state.upper().startswith("TIMEOUT") else f"job state {state}"
        last = tail[-1] if tail else ""
        error = f"{self.config.executor} job {sjob.job_id} ended without writing a record ({reason})" + (
            f"; last log line: {last}" if last else "")
        elapsed = (datetime.now(timezone.utc) - started).total_seconds()
        return record_failure(runner, job, error, elapsed, started, extra={
            "worker": {"job_id": str(sjob.job_id), "state": state, "log": str(stderr or ""), "log_tail": tail}})
