"""Every cell in its own process: memory never carries over between cells, and a crash (an
exception, ``os._exit``, a segfault, the out-of-memory killer) fails that cell only.

The launcher writes ``runs/<run_id>/job.json`` (see :mod:`benchmark.run.worker`), starts
``python -m benchmark.run.worker job.json`` (``accelerate launch ... -m benchmark.run.worker`` for
data-parallel cells), waits, and reads back the ``record.json`` the worker wrote. A process that
ends without a record gets a failed record written here, with its exit code or signal and the
last lines of ``runs/<run_id>/worker.log`` (the stdout and stderr of every rank). The launching
process holds the cell's lock while its worker runs and hands the lock's token to it.

The engine (:class:`ProcessPool`) runs several cells at once; the ``queue`` launcher uses it
to spread cells over GPUs.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Literal

from benchmark.api import Launcher
from benchmark.errors import ConfigError
from benchmark.settings import setting

#: seconds between polls of the running processes
POLL_S = 0.05
#: seconds a process group gets between SIGTERM and SIGKILL
KILL_GRACE_S = 5.0
#: the folder holding the ``benchmark`` and ``plugins`` packages, so that ``-m benchmark.run.worker``
#: also works from a source tree that is not installed
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel SIGTERM the worker when the launching process dies
    (Linux ``PR_SET_PDEATHSIG``), so that a killed ``bench run`` leaves no cell running without
    its lock; None where unsupported. libc is loaded here, not in the forked child."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


def runner_of(launcher: Launcher) -> Any:
    """The runner a launcher that runs cells in other processes was given
    (:attr:`benchmark.api.Launcher.runner`)."""
    if launcher.runner is None:
        raise ConfigError(f"launcher '{launcher.name}' runs cells in other processes: set its runner "
                          "before launch (Runner.run does)")
    return launcher.runner


def free_port() -> int:
    """A TCP port nobody listens on now (for the rendezvous of a data-parallel cell)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe_exit(returncode: int | None, tail: list[str]) -> str:
    """``exited with code 3`` / ``killed by signal SIGSEGV``; through ``accelerate launch`` the
    launcher's own code is 1, so the rank's code is looked up in its error report."""
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    text = "\n".join(tail)
    inner = re.findall(r"returned non-zero exit status (-?\d+)", text) or re.findall(r"exitcode\s*:\s*(-?\d+)", text)
    if inner and int(inner[-1]) != returncode:
        code = int(inner[-1])
        rank = describe_exit(code, []) if code < 0 else f"exited with code {code}"
        return f"exited with code {returncode} (a rank {rank})"
    return f"exited with code {returncode}"


@dataclass
class _Running:
    job: Any
    slot: int
    proc: subprocess.Popen
    log: IO[bytes]
    log_path: Path
    command: list[str]
    t0: float
    started_at: datetime
    deadline: float | None
    lock: Any = None  # the cell lock, held by this process while the worker runs
    timed_out: bool = False


@dataclass
class ProcessPool:
    """Runs cells as worker processes, at most one per slot; each slot adds its environment
    variables (e.g. ``CUDA_VISIBLE_DEVICES``) to the worker's."""

    runner: Any
    command: Callable[[Path], list[str]]
    slots: list[dict[str, str]]
    timeout_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    def run(self, jobs: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """Yield each job's record as its process ends (not in job order when slots > 1)."""
        pending = deque(jobs)
        running: dict[int, _Running] = {}
        done: list[dict[str, Any]] = []
        try:
            while pending or running or done:
                self._fill(pending, running, done)
                for slot, item in list(running.items()):
                    if item.proc.poll() is None:
                        if item.deadline is None or time.monotonic() <= item.deadline:
                            continue
                        item.timed_out = True
                        _kill_group(item.proc)
                    del running[slot]
                    done.append(self._finish(item))
                if not done:
                    time.sleep(POLL_S)
                    continue
                self._fill(pending, running, done)  # keep the slots busy while records are handled
                finished, done = done, []
                yield from finished
        finally:  # interrupted (Ctrl-C, an error in the caller): no orphaned cells
            for item in running.values():
                _kill_group(item.proc, first=signal.SIGINT)  # as Ctrl-C would: checkpoints are kept
                item.log.close()
                if item.lock is not None:
                    item.lock.release()

    def _fill(self, pending: deque, running: dict[int, _Running], done: list[dict[str, Any]]) -> None:
        for slot in range(len(self.slots)):
            while slot not in running and pending:
                started = self._start(pending.popleft(), slot)
                if isinstance(started, dict):  # left to another runner
                    done.append(started)
                else:
                    running[slot] = started

    def _start(self, job: Any, slot: int) -> _Running | dict[str, Any]:
        from benchmark.run.worker import WORKER_LOG, lock_cell, write_job_file

        lock, result = lock_cell(self.runner, job)
        if result is not None:
            return result
        try:
            job_file = write_job_file(self.runner, job, lock_token=lock.token)
            log_path = job_file.parent / WORKER_LOG
            command = self.command(job_file)
            env = {**os.environ, **self.env, **self.slots[slot]}
            env["PYTHONPATH"] = os.pathsep.join(p for p in (_SOURCE_ROOT, env.get("PYTHONPATH", "")) if p)
            log = open(log_path, "wb")
            log.write(("$ " + " ".join(command) + "\n").encode())
            log.flush()
            t0 = time.monotonic()
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True,  # own process group: killed as a whole
                                    preexec_fn=_parent_death_signal())
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        deadline = t0 + self.timeout_s if self.timeout_s > 0 else None
        if self.runner.progress:  # a long cell (a teacher fit) is not silence
            from tqdm.auto import tqdm

            tqdm.write(f"started {job.cell.label} (slot {slot}, log {log_path})", file=sys.stderr)
        return _Running(job, slot, proc, log, log_path, command, t0, datetime.now(timezone.utc), deadline, lock)

    def _finish(self, item: _Running) -> dict[str, Any]:
        item.proc.wait()
        _kill_group(item.proc, grace_s=0)  # strays of the group (e.g. ranks whose launcher died)
        item.log.close()
        try:
            return self._record(item)
        finally:
            if item.lock is not None:
                item.lock.release()

    def _record(self, item: _Running) -> dict[str, Any]:
        from benchmark.status import RUNNING_ELSEWHERE, not_run
        from benchmark.run.worker import EXIT_NOT_RUN, log_tail, record_failure

        record = self.runner.store.read_record(item.job.run_id)
        if record is not None:  # the worker finished the cell (ok or failed) and wrote its record
            return record
        if item.proc.returncode == EXIT_NOT_RUN:  # another runner took the cell meanwhile
            return not_run(item.job, RUNNING_ELSEWHERE, "left to another runner by the worker")
        tail = log_tail(item.log_path)
        if item.timed_out:
            reason = f"time budget exceeded (timeout_s={self.timeout_s:g}); the worker was killed"
        else:
            reason = f"worker {describe_exit(item.proc.returncode, tail)} without writing a record"
        last = next((line for line in reversed(tail) if not line.startswith("$ ")), "")
        error = reason + (f"; last log line: {last}" if last else "")
        return record_failure(self.runner, item.job, error, time.monotonic() - item.t0, item.started_at, extra={
            "worker": {"returncode": item.proc.returncode, "timed_out": item.timed_out,
                       "command": item.command, "log": str(item.log_path), "log_tail": tail},
            "env": {"slot": self.slots[item.slot]},
        })


def _kill_group(proc: subprocess.Popen, grace_s: float = KILL_GRACE_S, first: int = signal.SIGTERM) -> None:
    """Send ``first`` to the process group of ``proc`` (the worker and every rank), SIGKILL after
    ``grace_s``; with ``grace_s=0``, SIGKILL whatever is left of the group at once."""
    try:
        os.killpg(proc.pid, first if grace_s > 0 else signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    if grace_s <= 0:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def worker_command(job_file: Path, num_processes: int = 1, mixed_precision: str = "no",
                   extra_args: list[str] | None = None, config_file: str = "",
                   launch: str = "auto", port: int | None = None) -> list[str]:
    """The command that runs one cell: ``accelerate launch [...] -m benchmark.run.worker JOB`` or, for a
    single-process cell with ``launch="auto"``, ``python -m benchmark.run.worker JOB`` (what
    ``accelerate launch`` would start, without its own start-up time)."""
    extra = list(extra_args or [])
    if launch == "python" or (launch == "auto" and num_processes == 1 and not extra and not config_file):
        return [sys.executable, "-m", "benchmark.run.worker", str(job_file)]
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file:
        cmd += ["--config_file", config_file]
    if num_processes > 1:
        # on CPU too: `--cpu --num_processes 2` would start a single process; the worker asks
        # for the gloo backend when no GPU is visible
        cmd += ["--multi_gpu", "--main_process_port", str(port or free_port())]
    cmd += ["--num_processes", str(num_processes), "--num_machines", "1",
            "--mixed_precision", mixed_precision, "--dynamo_backend", "no", *extra,
            "-m", "benchmark.run.worker", str(job_file)]
    return cmd


class ProcessLauncher(Launcher):
    name = "process"
    version = "1"
    description = "each cell in its own process (accelerate launch for data-parallel cells); crashes stay isolated"

    @dataclass
    class Config:
        #: ranks of each cell (data parallel inside the cell; GPUs, or gloo processes on CPU)
        num_processes: int = setting(1, ge=1)
        #: accelerate's launch default; the cell's ``train.mixed_precision`` (part of its run id)
        #: is what its Accelerator uses
        mixed_precision: Literal["no", "fp16", "bf16"] = "no"
        #: further ``accelerate launch`` arguments, e.g. ``["--gpu_ids", "0,1"]``
        extra_args: list[str] = field(default_factory=list)
        #: an ``accelerate config`` file for ``accelerate launch`` (empty: flags only)
        config_file: str = ""
        #: per-cell wall-clock budget in seconds (0: none); a cell over it is killed and failed
        timeout_s: float = setting(0.0, ge=0.0)
        #: "auto": plain ``python`` for single-process cells, ``accelerate launch`` otherwise;
        #: "accelerate": always ``accelerate launch``; "python": never (single-process only)
        launch: Literal["auto", "accelerate", "python"] = "auto"

    def __init__(self, config: Any = None):
        super().__init__(config)
        cfg = self.config
        if cfg.launch == "python" and cfg.num_processes > 1:
            raise ConfigError(f"launcher {self.name}: launch 'python' runs one process; num_processes > 1 "
                              "needs launch 'auto' or 'accelerate'")

    def command(self, job_file: Path) -> list[str]:
        cfg = self.config
        return worker_command(job_file, cfg.num_processes, cfg.mixed_precision, cfg.extra_args,
                              cfg.config_file, cfg.launch)

    def environment(self) -> dict[str, str]:
        # what `accelerate launch` sets, also for the processes started without it
        return {"ACCELERATE_MIXED_PRECISION": self.config.mixed_precision}

    def slots(self) -> list[dict[str, str]]:
        return [{}]

    def launch(self, jobs: Iterable[Any], execute: Callable[[Any], dict]) -> Iterator[dict]:
        pool = ProcessPool(runner_of(self), self.command, self.slots(), self.config.timeout_s, self.environment())
        yield from pool.run(jobs)
