"""`bench run`: run every cell of a matrix and write its leaderboard."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..arguments import add_matrix_args, add_plugin_args, load_plugins_and_matrix
from ..errors import ConfigError
from ..matrix import select_cells
from ..status import FAILED, OK, PENDING, should_run
from .common import EXIT_CONFIG, EXIT_FAILED_CELLS, EXIT_INTERRUPTED, EXIT_OK, command_line, unavailable_notes


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="run every cell of a matrix and write the leaderboard")
    add_matrix_args(run)
    add_plugin_args(run)
    run.add_argument("--runs-dir", type=Path, default=Path("runs"), help="one folder per cell (default: runs/)")
    run.add_argument("--cache-dir", type=Path, default=None, help="teacher cache (default: RUNS_DIR/_cache/teachers)")
    run.add_argument("--leaderboard-dir", type=Path, default=Path("leaderboards"),
                     help="where the leaderboard is written (default: leaderboards/)")
    run.add_argument("--no-leaderboard", action="store_true", help="do not write a leaderboard")
    run.add_argument("--launcher", default=None,
                     help="how cells are executed: inline, process, queue, submitit (see `bench plugins`, docs/scaling.md); "
                          "default: the matrix's `launcher:` or inline")
    run.add_argument("--processes", type=int, default=None, metavar="N",
                     help="data-parallel ranks per cell (launchers process, queue, submitit)")
    run.add_argument("--gpus", default=None, metavar="IDS",
                     help="GPUs the queue launcher spreads cells over, e.g. 0,1,2,3 (default: every visible GPU)")
    run.add_argument("--slots", type=int, default=None, metavar="N",
                     help="cells at a time on CPU (queue launcher)")
    run.add_argument("--launcher-set", dest="launcher_set", action="append", default=[], metavar="KEY=VALUE",
                     help="any launcher option, e.g. --launcher-set timeout_s=3600 --launcher-set partition=gpu")
    run.add_argument("--force", action="store_true", help="re-run cells that already have a record")
    run.add_argument("--rerun-failed", action="store_true", help="re-run cells recorded as failed")
    run.add_argument("--dry-run", action="store_true", help="list every cell with its run id and status")
    run.add_argument("--only", action="append", default=[], metavar="AXIS=VALUE[,AXIS=VALUE]",
                     help="run only matching cells, e.g. --only teacher=seq-gru,seed=0")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--refit-teachers", action="store_true",
                     help="fit the teacher anew in every cell that needs one, bypassing the teacher cache "
                          "(measures what the cache saves)")
    run.add_argument("--no-download", action="store_true",
                     help="do not fetch missing annotation files of the matrix's datasets (fail instead)")


def run(args: argparse.Namespace) -> int:
    from ..run import Runner

    plugins, full = load_plugins_and_matrix(args)
    import copy

    matrix = copy.copy(full)
    matrix.cells = select_cells(full.cells, args.only)
    launcher_name, launcher_options = launcher_choice(args, full)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, cache_dir=args.cache_dir,
                    launcher=launcher_name, progress=not args.no_progress, refit_teachers=args.refit_teachers)
    runner.make_launcher(launcher_options)  # a bad option fails before anything runs
    if not args.dry_run and not args.no_download:
        _fetch_missing_annotations(plugins, matrix, runner.data_dir, progress=not args.no_progress)
    if args.dry_run:
        jobs = runner.plan(matrix, require_features=False)
        for note in unavailable_notes(runner):
            print(note)
        from tabulate import tabulate

        rows = [[j.run_id, j.status, *j.cell.axes.values()] for j in jobs]
        print(tabulate(rows, headers=["run_id", "status", "dataset", "teacher", "student", "loss", "seed"]))
        for combo, reason in matrix.dropped:
            print(f"dropped {combo}: {reason}")
        counts = {s: sum(j.status == s for j in jobs) for s in (OK, FAILED, PENDING)}
        print(f"{len(jobs)} cells: {counts[OK]} ok, {counts[FAILED]} failed, {counts[PENDING]} pending")
        return EXIT_OK
    if not _cheap_checks_pass(runner, matrix):
        return EXIT_CONFIG
    # the leaderboard always covers the whole matrix, also after a run limited with --only; it is
    # rewritten after every finished cell (marked partial until every cell has a record)
    write_board = None if args.no_leaderboard else _leaderboard_writer(plugins, runner, full, args.leaderboard_dir)
    try:
        summary = runner.run(matrix, force=args.force, rerun_failed=args.rerun_failed,
                             launcher_options=launcher_options,
                             on_record=None if write_board is None else lambda record: write_board(final=False))
    except KeyboardInterrupt:
        _report_interrupt(runner, matrix, args)
        return EXIT_INTERRUPTED
    if write_board is not None:
        paths = write_board(final=True)
        print("leaderboard: " + ", ".join(str(p) for p in paths), file=sys.stderr)
    previous_failed = [j for j in summary.skipped if j.status == FAILED]
    n_failed = len(summary.failed) + len(previous_failed)
    elsewhere = summary.elsewhere
    print(
        f"done: {len(summary.executed) - len(summary.failed) - len(elsewhere)} ran ok, {len(summary.failed)} failed, "
        + (f"{len(elsewhere)} left to another runner, " if elsewhere else "")
        + f"{len(summary.skipped)} skipped (already recorded"
        + (f", {len(previous_failed)} of them failed: use --rerun-failed" if previous_failed else "")
        + ")",
        file=sys.stderr,
    )
    return EXIT_FAILED_CELLS if n_failed else EXIT_OK


def _leaderboard_writer(plugins: Any, runner: Any, matrix: Any, out_dir: Path) -> Any:
    """``write(final)``: the matrix's leaderboard files from the records so far; a failure while
    the matrix runs is a warning (the next cell rewrites them), at the end an error."""
    from .. import report

    command = command_line()

    def write(final: bool) -> list[Path]:
        try:
            return report.write_matrix(plugins, runner, matrix, out_dir, command)
        except Exception as exc:
            if final:
                raise
            print(f"bench: warning: the partial leaderboard was not written: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return []

    return write


def _cheap_checks_pass(runner: Any, matrix: Any) -> bool:
    """The cheap checks of `bench data doctor` (annotations, splits, class lists, teacher
    caches), before the first cell: warnings are printed, an error stops the run."""
    from .. import doctor

    checks = doctor.diagnose(runner, matrix, cheap_only=True)
    for check in checks:
        if check.level != "ok":
            print(f"bench: {check.level}: {check.check} {check.subject}: {check.message}", file=sys.stderr)
    return not any(c.level == "error" for c in checks)


def _fetch_missing_annotations(plugins: Any, matrix: Any, data_dir: Path, progress: bool) -> None:
    """Download the annotation files of the matrix's real datasets that are missing or damaged
    in ``data_dir`` (as `bench data download` does), so that a fresh machine can run a matrix
    on the real annotations with one command."""
    from ..download import PRESENT, check, download, load_manifest

    for name in dict.fromkeys(cell.components["dataset"] for cell in matrix.cells):
        cls = plugins.get("dataset", name)
        if cls.manifest_file is None:
            continue
        files = load_manifest(cls.manifest_file)
        todo = [s for s in check(data_dir, name, files) if s.state != PRESENT]
        if not todo:
            continue
        print(f"bench: {len(todo)} annotation files of '{name}' missing in {data_dir / name}: downloading "
              f"(`bench data download {name}`; --no-download to skip)", file=sys.stderr)
        download(data_dir, name, files, progress=progress)


def launcher_choice(args: argparse.Namespace, matrix: Any) -> tuple[str, dict[str, Any]]:
    """The launcher and its options: the command line's, on top of the matrix's ``launcher:``
    when they name the same launcher (or the command line names none); else inline."""
    from_matrix = dict(matrix.launcher)
    name = args.launcher or from_matrix.pop("name", "inline")
    if args.launcher and from_matrix.get("name", args.launcher) != args.launcher:
        from_matrix = {}
    from_matrix.pop("name", None)
    return name, {**from_matrix, **_launcher_options(args)}


def _launcher_options(args: argparse.Namespace) -> dict[str, Any]:
    """The launcher's Config values given on the command line (``--launcher-set`` parsed as YAML)."""
    from ..config import apply_overrides

    for item in args.launcher_set:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(f"--launcher-set {item!r}: expected KEY=VALUE, e.g. timeout_s=3600")
    options: dict[str, Any] = apply_overrides({}, [f"options.{item}" for item in args.launcher_set]).get("options", {})
    if args.processes is not None:
        options["num_processes"] = args.processes
    if args.gpus is not None:
        options["gpus"] = [g.strip() for g in args.gpus.split(",") if g.strip()]
    if args.slots is not None:
        options["slots"] = args.slots
    return options


def _report_interrupt(runner: Any, matrix: Any, args: argparse.Namespace) -> None:
    """After Ctrl-C: which cells finished, which one was cut short, which never started."""
    journal = runner.journal
    finished = {r["run_id"]: r for r in journal.finished}
    interrupted = [j for j in journal.interrupted if j.run_id not in finished]
    elsewhere = {r["run_id"] for r in journal.elsewhere}
    skip = set(finished) | {j.run_id for j in interrupted} | elsewhere
    try:
        jobs = runner.plan(matrix)
    except KeyboardInterrupt:  # a second Ctrl-C: report what is known
        jobs = []
    not_started = [j for j in jobs if j.run_id not in skip and (
        should_run(j.status, args.force, args.rerun_failed))]

    def show(title: str, labels: list[str]) -> None:
        print(f"  {title} ({len(labels)})" + (":" if labels else ""), file=sys.stderr)
        for label in labels[:20]:
            print(f"    {label}", file=sys.stderr)
        if len(labels) > 20:
            print(f"    ... and {len(labels) - 20} more", file=sys.stderr)

    print("bench: interrupted (Ctrl-C); the leaderboard shows the cells recorded so far (partial)", file=sys.stderr)
    show("finished", [f"{r['cell']['label']} {r['status']}" for r in finished.values()])
    show("interrupted, left pending (runs again next time)", [j.cell.label for j in interrupted])
    if elsewhere:
        show("left to another runner", [r["cell"]["label"] for r in journal.elsewhere])
    show("not started", [j.cell.label for j in not_started])
