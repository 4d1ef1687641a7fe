"""What a launched process runs: one cell, described by a job file.

    python -m benchmark.run.worker runs/<run_id>/job.json
    accelerate launch --multi_gpu --num_processes 2 ... -m benchmark.run.worker runs/<run_id>/job.json

The job file holds the resolved cell (not the matrix file and its overrides, which may have
changed since planning), its run id and identity, and the folders and plugin folders of the
parent's :class:`~benchmark.run.Runner`. The worker rebuilds that runner and calls
``Runner.execute``, which writes ``record.json`` from the main process only. Exit status: 0 when
the cell's record says ``ok``, 1 when the cell failed, 2 for an unreadable job file, 75 when the
cell was left to another runner (no record written).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from .. import atomic
from ..errors import ConfigError, DataError
from ..locks import INHERITED_ENV
from ..records import error_line, new_record
from ..status import FAILED, NOT_RUN, OK, PENDING, claim, should_run

JOB_FILE = "job.json"
#: stdout and stderr of a launched cell (every rank), next to its record
WORKER_LOG = "worker.log"
JOB_FORMAT = 1
#: exit status of a worker that left its cell to another runner (locked by it, or recorded by it)
EXIT_NOT_RUN = 75


def plugin_dirs(plugins: Any) -> list[str]:
    """The plugin folders ``plugins`` loaded files from (explicit and ``BENCH_PLUGINS_DIR`` ones)."""
    out: list[str] = []
    for name, info in plugins.info.items():
        if info.source != "plugins dir":
            continue
        module = plugins.pm.get_plugin(name)
        folder = str(Path(getattr(module, "__file__", "") or ".").resolve().parent)
        if folder not in out:
            out.append(folder)
    return out


def job_spec(runner: Any, job: Any, progress: bool = False, lock_token: str = "") -> dict[str, Any]:
    """Everything a fresh process needs to run ``job`` exactly as ``runner`` would (JSON-safe)."""
    return {
        "format": JOB_FORMAT,
        "run_id": job.run_id,
        "status": job.status,
        "identity": job.identity,
        "cell": dataclasses.asdict(job.cell),
        "runs_dir": str(Path(runner.store.root).resolve()),
        "data_dir": str(Path(runner.data_dir).resolve()),
        "cache_dir": str(Path(runner.cache.root).resolve()),
        "refit_teachers": runner.refit_teachers,
        "plugins_dirs": plugin_dirs(runner.plugins),
        "progress": progress,
        # the token of the cell's lock, held by the launching process while the worker runs
        "lock_token": lock_token,
    }


def write_job_file(runner: Any, job: Any, progress: bool = False, lock_token: str = "",
                   drop_stale: bool = True) -> Path:
    """Create the run folder, drop a stale record (so that only the record of this launch is read
    back; ``drop_stale=False`` keeps it until the worker starts) and write ``job.json``."""
    from ..store import RECORD

    run_dir = runner.store.run_dir(job.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    if drop_stale:
        (run_dir / RECORD).unlink(missing_ok=True)
    path = (run_dir / JOB_FILE).resolve()
    atomic.write_json(path, job_spec(runner, job, progress, lock_token))
    return path


def read_job_file(path: Path) -> dict[str, Any]:
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: job file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a JSON job file ({exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != JOB_FORMAT:
        raise DataError(f"{path}: expected a job file with format {JOB_FORMAT}")
    missing = [k for k in ("run_id", "identity", "cell", "runs_dir", "data_dir", "cache_dir") if k not in spec]
    if missing:
        raise DataError(f"{path}: job file lacks {', '.join(missing)}")
    return spec


def lock_cell(runner: Any, job: Any) -> tuple[Any, dict[str, Any] | None]:
    """Take ``job``'s cell lock in the launching process: ``(lock, None)``, or ``(None, result)``
    when another runner holds the cell or recorded it since planning (as ``Runner.execute`` does
    for cells it runs itself); a lock given up is released."""
    lock = runner.cell_lock(job.run_id)
    elsewhere = claim(job, lock, runner.store)
    return (lock, None) if elsewhere is None else (None, elsewhere)


def _use_cpu_backend_if_needed() -> None:
    """On a machine without a GPU, ``accelerate launch --multi_gpu`` starts the ranks but marks them
    as GPU ranks; an ``Accelerator(cpu=False)`` then stays single-process in every rank (each one
    would train the whole cell and write the record). Asking for the CPU backend makes the ranks
    join one gloo process group instead."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return
    import torch

    if not torch.cuda.is_available():
        os.environ["ACCELERATE_USE_CPU"] = "true"


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the cell of a job spec in this process; return its record (written by the main rank)."""
    from ..matrix import Cell
    from ..plugin_manager import get_plugins
    from .jobs import Job
    from .runner import Runner

    _use_cpu_backend_if_needed()
    # the spec lists every plugin folder the parent loaded, BENCH_PLUGINS_DIR ones included
    os.environ.pop("BENCH_PLUGINS_DIR", None)
    plugins = get_plugins(spec.get("plugins_dirs") or [])
    runner = Runner(plugins, Path(spec["runs_dir"]), data_dir=Path(spec["data_dir"]),
                    cache_dir=Path(spec["cache_dir"]), progress=bool(spec.get("progress", False)),
                    refit_teachers=bool(spec.get("refit_teachers", False)),
                    cell_lines=lambda line: print(line, flush=True))
    if spec.get("lock_token"):  # the launcher holds the cell's lock for this process
        os.environ[INHERITED_ENV] = str(spec["lock_token"])
    job = Job(Cell(**spec["cell"]), spec["run_id"], spec["identity"], str(spec.get("status", PENDING)))
    return runner.execute(job)


def run_job_file(path: str | Path) -> str:
    """Run the job of ``path``; return the cell's status. The entry point of cluster jobs (a plain
    module-level function, so that submitit can refer to it by name)."""
    return str(run_spec(read_job_file(Path(path))).get("status", FAILED))


def failed_record(job: Any, error: str, elapsed_s: float, started: datetime | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record a launcher writes for a cell whose process ended without writing one (crash,
    signal, time budget). Same keys as :meth:`Runner.execute`'s records, no metrics."""
    now = datetime.now(timezone.utc)
    return {
        **new_record(job, error_line(error or "") or "worker ended without a record"),
        "feature_fingerprint": job.identity.get("feature_fingerprint", ""),
        "timings": {"total_s": round(elapsed_s, 3)},
        "started_at": (started or now).isoformat(),
        "ended_at": now.isoformat(),
        **(extra or {}),
    }


def record_failure(runner: Any, job: Any, error: str, elapsed_s: float, started: datetime | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write :func:`failed_record` for ``job`` and tell the ``bench_after_cell`` hooks, as
    :meth:`Runner.execute` does for the records it writes."""
    record = failed_record(job, error, elapsed_s, started, extra)
    runner.store.write_record(job.run_id, record)
    try:
        runner.plugins.hook().bench_after_cell(cell=job.cell, record=record)
    except Exception as exc:  # the record is written; a tracker failing must not stop the matrix
        print(f"bench: warning: bench_after_cell hook raised {type(exc).__name__}: {exc}", file=sys.stderr)
    return record


def log_tail(path: Path, lines: int = 20, max_chars: int = 4000) -> list[str]:
    """The last non-empty lines of a log file (for failure records)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_chars))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    out = [line.rstrip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return out[-lines:]


def plan(argv: Sequence[str]) -> int:
    """``python -m benchmark.run.worker plan --matrix ...``: write the job file of every cell that
    ``bench run`` would run (same options) and print their paths, one a line, for launching the
    cells by hand (e.g. each with a multi-node ``accelerate launch``)."""
    import argparse

    from ..arguments import add_matrix_args, add_plugin_args, load_plugins_and_matrix
    from ..matrix import select_cells
    from .runner import Runner

    parser = argparse.ArgumentParser(prog="python -m benchmark.run.worker plan", description=plan.__doc__)
    add_matrix_args(parser)
    add_plugin_args(parser)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--only", action="append", default=[], metavar="AXIS=VALUE[,AXIS=VALUE]")
    parser.add_argument("--force", action="store_true", help="every cell, also recorded ones")
    parser.add_argument("--rerun-failed", action="store_true", help="also cells recorded as failed")
    args = parser.parse_args(list(argv))
    try:
        plugins, matrix = load_plugins_and_matrix(args)
        cells = select_cells(matrix.cells, args.only)
        matrix.cells = cells
        runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, cache_dir=args.cache_dir, progress=False)
        for job in runner.plan(matrix):
            if should_run(job.status, args.force, args.rerun_failed):
                print(write_job_file(runner, job, drop_stale=False).resolve())
    except ConfigError as exc:
        print(f"bench worker: error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "plan":
        return plan(args[1:])
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m benchmark.run.worker JOB_JSON    run one cell (job files are written by the\n"
              "                                              process, queue and submitit launchers)\n"
              "       python -m benchmark.run.worker plan ...    write the job files of a matrix and print them",
              file=sys.stderr)
        return 2
    try:
        status = run_job_file(args[0])
    except DataError as exc:
        print(f"bench worker: error: {exc}", file=sys.stderr)
        return 2
    return 0 if status == OK else EXIT_NOT_RUN if status in NOT_RUN else 1


if __name__ == "__main__":
    sys.exit(main())
