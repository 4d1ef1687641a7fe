"""The ``bench`` command line: run, validate, plugins, leaderboard, data."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import __version__
from .arguments import PROFILES, add_matrix_args, add_plugin_args, load_plugins, load_plugins_and_matrix
from .errors import ConfigError, DownloadError, PluginError
from .matrix import select_cells
from .status import should_run

if TYPE_CHECKING:
    from .download import RemoteFile

EXIT_OK, EXIT_FAILED_CELLS, EXIT_CONFIG = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

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

    val = sub.add_parser("validate", help="resolve and type-check every cell without running")
    add_matrix_args(val)
    add_plugin_args(val)
    val.add_argument("--print-config", action="store_true",
                     help="print every cell's fully resolved configuration (YAML, or JSON with --json)")
    val.add_argument("--json", action="store_true", help="with --print-config: JSON instead of YAML")

    plug = sub.add_parser("plugins", help="list plugins and the components they register")
    add_plugin_args(plug)
    plug.add_argument("--json", action="store_true", help="machine-readable output")

    teach = sub.add_parser("teachers", help="fit every teacher of a matrix (cached) and write a teacher-only leaderboard")
    add_matrix_args(teach)
    add_plugin_args(teach)
    teach.add_argument("--runs-dir", type=Path, default=Path("runs"))
    teach.add_argument("--cache-dir", type=Path, default=None)
    teach.add_argument("--leaderboard-dir", type=Path, default=Path("leaderboards"))
    teach.add_argument("--baseline", action="append", default=None, metavar="TABLE",
                       help="published teacher tables to show (default: ghosh2023-epic55-teachers)")

    base = sub.add_parser("baselines", help="list the published baseline tables or write them as Markdown")
    add_plugin_args(base)
    base.add_argument("--out", type=Path, default=None,
                      help="write one <table>.md per table into this folder (e.g. leaderboards/baselines)")

    board = sub.add_parser("leaderboard", help="build leaderboards from run records")
    add_plugin_args(board)
    board.add_argument("--runs-dir", type=Path, default=Path("runs"))
    board.add_argument("--matrix", default=None, metavar="NAME|PATH",
                       help="only the cells of this matrix (default: every record in RUNS_DIR)")
    board.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    board.add_argument("--data-dir", type=Path, default=None)
    board.add_argument("--out", type=Path, default=Path("leaderboards"), help="output folder")
    board.add_argument("--primary", default=None, help="metric used for Δ and relative gain")
    board.add_argument("--baseline", action="append", default=None, metavar="TABLE",
                       help="baseline table(s) to show (default: the matrix's, or all)")
    board.add_argument("--reference", default=None, metavar="SOURCE[:LABEL]",
                       help="row that Δ and relative gain compare with (default: the same student "
                            "with teacher none and loss none, per source)")
    _data_parser(sub)
    _features_parser(sub)
    _logs_parser(sub)
    return parser


def _logs_parser(sub: Any) -> None:
    logs = sub.add_parser("logs", help="summarise the loss logs of one cell or of every cell of a matrix")
    logs.add_argument("run_id", nargs="?", default=None, metavar="RUN_ID",
                      help="a run id (or a unique prefix of one) under RUNS_DIR")
    logs.add_argument("--matrix", default=None, metavar="NAME|PATH", help="every cell of this matrix instead")
    logs.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    logs.add_argument("--data-dir", type=Path, default=None)
    logs.add_argument("--runs-dir", type=Path, default=Path("runs"))
    add_plugin_args(logs)


def _data_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="download and check the annotation files of a dataset")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    dl = data_sub.add_parser("download", help="fetch missing files of a dataset and verify their sha256")
    info = data_sub.add_parser("info", help="show which files of a dataset are present and what they hold")
    info.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="a setting of the dataset's config, e.g. --set video_start=reference")
    for p in (dl, info):
        p.add_argument("dataset", metavar="DATASET", help="a registered dataset name (see `bench plugins`)")
        p.add_argument("--data-dir", type=Path, default=None,
                       help="annotation files (default: $BENCH_DATA_DIR or ~/.cache/lm2video-bench/data)")
        add_plugin_args(p)
    dl.add_argument("--base-url", default=None, metavar="URL",
                    help="fetch URL/DATASET/PATH instead of the manifest URLs (a mirror; also BENCH_DATA_BASE_URL)")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    doctor = data_sub.add_parser("doctor", help="check everything a matrix needs before training: annotations, "
                                               "splits, feature coverage and values, teacher caches, class lists")
    add_matrix_args(doctor)
    add_plugin_args(doctor)
    doctor.add_argument("--runs-dir", type=Path, default=Path("runs"), help="whose teacher cache to check (default: runs/)")
    doctor.add_argument("--sample", type=int, default=256, metavar="N", help="feature vectors per split and modality "
                                                                              "checked for NaN, Inf and zeros (default: 256)")
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")


def _features_parser(sub: Any) -> None:
    feats = sub.add_parser("features", help="prepare feature files: extract backbone features from frames")
    feats_sub = feats.add_subparsers(dest="features_command", required=True)
    ex = feats_sub.add_parser("extract", help="run a timm backbone over JPEG frames into an LMDB (RULSTM layout)")
    ex.add_argument("--frames", type=Path, required=True, metavar="ROOT", help="folder holding the frames")
    ex.add_argument("--template", default="{video}/frame_{frame:010d}.jpg",
                    help="path of a frame under ROOT; placeholders {video}, {participant}, {frame} "
                         "(default: %(default)s)")
    which = ex.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", metavar="NAME", help="extract the frames this dataset's samples observe")
    which.add_argument("--all-frames", action="store_true", help="extract every frame file under ROOT")
    ex.add_argument("--out", type=Path, required=True, metavar="LMDB_DIR", help="LMDB folder to write")
    ex.add_argument("--backbone", required=True, help="a timm model name, e.g. vit_base_patch16_224")
    ex.add_argument("--weights", default="", metavar="FILE", help="local .safetensors (or .pth) weights")
    ex.add_argument("--pretrained", action="store_true", help="timm hub weights (network or hub cache)")
    ex.add_argument("--batch-size", type=int, default=64)
    ex.add_argument("--image-size", type=int, default=0, help="square input size (default: the backbone's)")
    ex.add_argument("--data-dir", type=Path, default=None,
                    help="annotation files (default: $BENCH_DATA_DIR or ~/.cache/lm2video-bench/data)")
    ex.add_argument("--splits", nargs="+", default=["train", "val"], help="splits whose frames are extracted")
    ex.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ex.add_argument("--workers", type=int, default=4, help="JPEG decoding threads")
    ex.add_argument("--skip-missing", action="store_true",
                    help="leave frames without a file out (the lmdb source then searches back or zero-fills)")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing LMDB_DIR")
    ex.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_plugin_args(ex)


def cmd_features(args: argparse.Namespace) -> int:
    """`bench features extract`: backbone features of JPEG frames into an LMDB."""
    from .extract import extract_features

    data = None
    if args.dataset:
        cls = load_plugins(args).get("dataset", args.dataset, "--dataset")
        data = cls(cls.Config()).load(_data_dir(args))
    result = extract_features(
        args.frames, args.template, args.out, args.backbone, data=data, splits=args.splits,
        all_frames=args.all_frames, weights=args.weights, pretrained=args.pretrained,
        batch_size=args.batch_size, image_size=args.image_size, device=args.device,
        skip_missing=args.skip_missing, overwrite=args.overwrite, workers=args.workers,
        progress=not args.no_progress,
    )
    skipped = f", {result.skipped} frames without a file skipped" if result.skipped else ""
    print(f"{result.out}: {result.frames} frames, {result.dim}-d {args.backbone} features, "
          f"{result.seconds:.1f} s{skipped}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "profile", None):
        if "--matrix" in (argv if argv is not None else sys.argv[1:]):
            parser.error("--profile and --matrix are alternatives: give one")
        args.matrix = PROFILES[args.profile]
    try:
        return {"run": cmd_run, "validate": cmd_validate, "plugins": cmd_plugins,
                "leaderboard": cmd_leaderboard, "data": cmd_data, "baselines": cmd_baselines,
                "teachers": cmd_teachers, "features": cmd_features,
                "logs": cmd_logs}[args.command](args)
    except (ConfigError, PluginError, DownloadError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("bench: interrupted; finished cells keep their records, the rest run next time", file=sys.stderr)
        return 130


def cmd_validate(args: argparse.Namespace) -> int:
    from .run import Runner

    plugins, matrix = load_plugins_and_matrix(args)
    runner = Runner(plugins, Path("runs"), data_dir=args.data_dir)
    # resolves every component and fingerprints every dataset; feature files may be absent here
    jobs = runner.plan(matrix, require_features=False)
    if args.print_config:
        _print_resolved(plugins, jobs, as_json=args.json)
        return EXIT_OK
    print(f"matrix '{matrix.name}': {len(jobs)} cells valid")
    for combo, reason in matrix.dropped:
        print(f"  dropped {combo}: {reason}")
    for name, reason in sorted(runner.unavailable_features.items()):
        print(f"  note: feature source '{name}' is not available here ({reason}); `bench run` needs it")
    return EXIT_OK


def _print_resolved(plugins: Any, jobs: list[Any], as_json: bool) -> None:
    from .resolved import resolved_config

    cells = [resolved_config(j.cell, j.run_id, plugins) for j in jobs]
    if as_json:
        print(json.dumps(cells, indent=2, default=str))
    else:
        import yaml

        print(yaml.safe_dump(cells, sort_keys=False, default_flow_style=False), end="")


def cmd_run(args: argparse.Namespace) -> int:
    from .run import Runner

    plugins, full = load_plugins_and_matrix(args)
    import copy

    matrix = copy.copy(full)
    matrix.cells = select_cells(full.cells, args.only)
    launcher_name, launcher_options = _launcher_choice(args, full)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, cache_dir=args.cache_dir,
                    launcher=launcher_name, progress=not args.no_progress, refit_teachers=args.refit_teachers)
    runner.make_launcher(launcher_options)  # a bad option fails before anything runs
    if not args.dry_run and not args.no_download:
        _fetch_missing_annotations(plugins, matrix, runner.data_dir, progress=not args.no_progress)
    if args.dry_run:
        jobs = runner.plan(matrix, require_features=False)
        for name, reason in sorted(runner.unavailable_features.items()):
            print(f"note: feature source '{name}' is not available here ({reason})")
        from tabulate import tabulate

        rows = [[j.run_id, j.status, *j.cell.axes.values()] for j in jobs]
        print(tabulate(rows, headers=["run_id", "status", "dataset", "teacher", "student", "loss", "seed"]))
        for combo, reason in matrix.dropped:
            print(f"dropped {combo}: {reason}")
        counts = {s: sum(j.status == s for j in jobs) for s in ("ok", "failed", "pending")}
        print(f"{len(jobs)} cells: {counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending")
        return EXIT_OK
    if not _cheap_checks_pass(runner, matrix):
        return EXIT_CONFIG
    try:
        summary = runner.run(matrix, force=args.force, rerun_failed=args.rerun_failed,
                             launcher_options=launcher_options)
    except KeyboardInterrupt:
        _report_interrupt(runner, matrix, args)
        return EXIT_INTERRUPTED
    if not args.no_leaderboard:
        # the leaderboard always covers the whole matrix, also after a run limited with --only
        paths = write_matrix_leaderboard(plugins, runner, full, args.leaderboard_dir, _command_line())
        print("leaderboard: " + ", ".join(str(p) for p in paths), file=sys.stderr)
    previous_failed = [j for j in summary.skipped if j.status == "failed"]
    n_failed = len(summary.failed) + len(previous_failed)
    elsewhere = getattr(summary, "elsewhere", [])
    print(
        f"done: {len(summary.executed) - len(summary.failed) - len(elsewhere)} ran ok, {len(summary.failed)} failed, "
        + (f"{len(elsewhere)} left to another runner, " if elsewhere else "")
        + f"{len(summary.skipped)} skipped (already recorded"
        + (f", {len(previous_failed)} of them failed: use --rerun-failed" if previous_failed else "")
        + ")",
        file=sys.stderr,
    )
    return EXIT_FAILED_CELLS if n_failed else EXIT_OK


def _cheap_checks_pass(runner: Any, matrix: Any) -> bool:
    """The cheap checks of `bench data doctor` (annotations, splits, class lists, teacher
    caches), before the first cell: warnings are printed, an error stops the run."""
    from . import doctor

    checks = doctor.diagnose(runner, matrix, cheap_only=True)
    for check in checks:
        if check.level != "ok":
            print(f"bench: {check.level}: {check.check} {check.subject}: {check.message}", file=sys.stderr)
    return not any(c.level == "error" for c in checks)


def _fetch_missing_annotations(plugins: Any, matrix: Any, data_dir: Path, progress: bool) -> None:
    """Download the annotation files of the matrix's real datasets that are missing or damaged
    in ``data_dir`` (as `bench data download` does), so that a fresh machine can run a matrix
    on the real annotations with one command."""
    from .download import PRESENT, check, download, load_manifest

    for name in dict.fromkeys(cell.components["dataset"] for cell in matrix.cells):
        cls = plugins.get("dataset", name)
        if getattr(cls, "manifest_file", None) is None:
            continue
        files = load_manifest(cls.manifest_file)
        todo = [s for s in check(data_dir, name, files) if s.state != PRESENT]
        if not todo:
            continue
        print(f"bench: {len(todo)} annotation files of '{name}' missing in {data_dir / name}: downloading "
              f"(`bench data download {name}`; --no-download to skip)", file=sys.stderr)
        download(data_dir, name, files, progress=progress)


def _launcher_choice(args: argparse.Namespace, matrix: Any) -> tuple[str, dict[str, Any]]:
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
    from .config import apply_overrides

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

    print("bench: interrupted (Ctrl-C); no leaderboard written", file=sys.stderr)
    show("finished", [f"{r['cell']['label']} {r['status']}" for r in finished.values()])
    show("interrupted, left pending (runs again next time)", [j.cell.label for j in interrupted])
    if elsewhere:
        show("left to another runner", [r["cell"]["label"] for r in journal.elsewhere])
    show("not started", [j.cell.label for j in not_started])


def cmd_logs(args: argparse.Namespace) -> int:
    """`bench logs RUN_ID | --matrix NAME`: a compact summary of per-cell loss logs."""
    from . import checkpoint, tracking
    from .store import RunStore

    store = RunStore(args.runs_dir)
    if args.matrix:
        from .matrix import load_matrix
        from .run import Runner

        plugins = load_plugins(args)
        matrix = load_matrix(args.matrix, plugins, args.overrides)
        runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, progress=False)
        cells = [(j.run_id, j.cell.label) for j in runner.plan(matrix)]
    elif args.run_id:
        cells = [(_find_run(store, args.run_id), "")]
    else:
        raise ConfigError("bench logs: give a RUN_ID or --matrix NAME")
    for rid, label in cells:
        record = store.read_record(rid) or {}
        label = label or (record.get("cell") or {}).get("label", "")
        ckpt = checkpoint.latest(store.run_dir(rid) / checkpoint.FOLDER)
        if record:
            status = str(record.get("status", "?"))
        elif store.lock_path(rid).exists():
            status = "running"
        elif ckpt is not None:
            status = f"unfinished, checkpoint after epoch {ckpt.epoch}"
        else:
            status = "pending"
        entries = tracking.read_losses(store.run_dir(rid) / tracking.LOSSES)
        print(f"{rid}  {label}  [{status}]")
        print(f"    {tracking.format_summary(tracking.summarise(entries))}")
    return EXIT_OK


def _find_run(store: Any, run_id: str) -> str:
    """A run id from a full id or a unique prefix of one."""
    import glob

    if store.run_dir(run_id).is_dir():
        return run_id
    root = Path(store.root)
    matches = sorted(p.name for p in root.glob(f"{glob.escape(run_id)}*") if p.is_dir() and not p.name.startswith("_"))
    if not matches:
        raise ConfigError(f"{root}: no run '{run_id}' (`bench run --dry-run` lists the run ids of a matrix)")
    if len(matches) > 1:
        raise ConfigError(f"{root}: run id prefix '{run_id}' is ambiguous: {', '.join(matches[:5])}")
    return matches[0]


def _command_line() -> str:
    return "bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def write_matrix_leaderboard(plugins: Any, runner: Any, matrix: Any, out_dir: Path, command: str,
                             primary: str | None = None, baselines: list[str] | None = None,
                             reference: str | None = None) -> list[Path]:
    from . import report

    jobs = runner.plan(matrix)
    records = [r for r in (runner.store.read_record(j.run_id) for j in jobs) if r is not None]
    names = baselines if baselines is not None else matrix.leaderboard.baselines
    tables = [plugins.get("baseline", n, "leaderboard.baselines") for n in names]
    board = report.build(records, tables, primary or matrix.leaderboard.primary,
                              matrix.leaderboard.metrics or None, reference or matrix.leaderboard.reference or None,
                              None if primary else matrix.leaderboard.primary_by_dataset)
    stem = matrix.leaderboard.output or matrix.name
    return report.write(board, out_dir, stem, f"Leaderboard: {matrix.name}", command, records)


def cmd_teachers(args: argparse.Namespace) -> int:
    """Teachers alone with oracle history: next-action metrics on val, next to published ones."""
    from . import report
    from .run import Runner

    plugins, matrix = load_plugins_and_matrix(args)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, cache_dir=args.cache_dir)
    records = runner.fit_teachers(matrix, echo=lambda line: print(line, file=sys.stderr))
    if not records:
        raise ConfigError(f"matrix '{matrix.name}' has no teacher other than 'none'")
    for r in records:
        info = r.get("teacher_info") or {}
        init = info.get("init", "")
        if init == "pretrained":
            init += " " + str(info.get("checkpoint", "")).split("/")[-1].removeprefix("pypi:")
        parts = [init, f"fit {r['fit_and_predict_s']:.0f} s" if r.get("fit_and_predict_s") else ""]
        r["row_label"] = ", ".join(p for p in parts if p)
    names = args.baseline if args.baseline is not None else ["ghosh2023-epic55-teachers"]
    tables = [plugins.get("baseline", n, "--baseline") for n in names]
    board = report.build(records, tables, matrix.leaderboard.primary, matrix.leaderboard.metrics or None,
                              primary_by_dataset=matrix.leaderboard.primary_by_dataset)
    stem = (matrix.leaderboard.output or matrix.name) + "-teachers"
    paths = report.write(board, args.leaderboard_dir, stem, f"Teachers alone (oracle history): {matrix.name}",
                              _command_line())
    print("\n".join(str(p) for p in paths))
    return EXIT_OK


def cmd_baselines(args: argparse.Namespace) -> int:
    from . import atomic
    from .baselines import render_markdown

    plugins = load_plugins(args)
    registry = plugins.registries["baseline"]
    for name in registry.names():
        table = registry.entries[name].obj
        if args.out is None:
            print(f"{name}: {len(table.rows)} rows ({', '.join(sorted({r.dataset for r in table.rows}))}) - "
                  f"{_short(table.citation, 90)}")
            continue
        path = args.out / f"{name}.md"
        atomic.write_text(path, render_markdown(table, _command_line()))
        print(path)
    return EXIT_OK


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from . import report
    from .run import Runner
    from .store import RunStore

    plugins = load_plugins(args)
    if args.matrix:
        from .matrix import load_matrix

        matrix = load_matrix(args.matrix, plugins, args.overrides)
        runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, progress=False)
        if not any(runner.store.read_record(j.run_id) for j in runner.plan(matrix)):
            raise ConfigError(
                f"{args.runs_dir}: no record of any cell of matrix '{matrix.name}' (was it run with other "
                "--set values or another --runs-dir?)"
            )
        paths = write_matrix_leaderboard(plugins, runner, matrix, args.out, _command_line(),
                                         args.primary, args.baseline, args.reference)
    else:
        records = list(RunStore(args.runs_dir).records())
        if not records:
            raise ConfigError(f"{args.runs_dir}: no run records found")
        names = args.baseline if args.baseline is not None else plugins.registries["baseline"].names()
        tables = [plugins.get("baseline", n, "--baseline") for n in names]
        board = report.build(records, tables, args.primary or "top5_action", reference=args.reference)
        paths = report.write(board, args.out, "leaderboard", "Leaderboard", _command_line(), records)
    print("\n".join(str(p) for p in paths))
    return EXIT_OK


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_plugins(args: argparse.Namespace) -> int:
    plugins = load_plugins(args)
    rows = []
    for kind, registry in plugins.registries.items():
        for name in registry.names():
            entry = registry.entries[name]
            rows.append({"kind": kind, "name": name, "version": entry.version,
                         "plugin": entry.origin, "package": entry.package,
                         "description": getattr(entry.obj, "description", "")})
        for name, entries in registry.conflicts.items():
            for entry in entries[1:]:
                rows.append({"kind": kind, "name": name, "version": entry.version,
                             "plugin": entry.origin, "package": entry.package,
                             "description": "UNUSABLE: this name is registered twice"})
            rows[[r["name"] for r in rows].index(name)]["description"] = "UNUSABLE: this name is registered twice"
    if args.json:
        print(json.dumps({
            "plugins": [vars(i) for i in plugins.info.values()],
            "components": rows,
            "warnings": plugins.warnings,
        }, indent=2))
        return EXIT_OK
    from tabulate import tabulate

    print(tabulate([[r["kind"], r["name"], r["version"], r["plugin"], r["package"], _short(r["description"])] for r in rows],
                   headers=["kind", "name", "version", "plugin", "package", "description"]))
    return EXIT_OK


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return args.data_dir
    from .run import default_data_dir

    return default_data_dir()


def _manifest(cls: Any) -> list[RemoteFile] | None:
    """The dataset's manifest entries, or None (with a message) if it has no files to fetch."""
    from .download import load_manifest

    if cls.manifest_file is None:
        what = "is generated and needs no download" if cls.data_kind == "synthetic" else \
            "has no manifest: bench cannot download its files"
        print(f"dataset '{cls.name}' {what}")
        return None
    return load_manifest(cls.manifest_file)


def cmd_data(args: argparse.Namespace) -> int:
    """`bench data download|info DATASET`: fetch or inspect the files of a dataset's manifest;
    `bench data doctor`: every check a matrix's data can get before training."""
    if args.data_command == "doctor":
        return _data_doctor(args)
    cls = load_plugins(args).get("dataset", args.dataset, "DATASET")
    data_dir = _data_dir(args)
    files = _manifest(cls)
    if args.data_command == "download":
        return EXIT_OK if files is None else _data_download(args, cls.name, data_dir, files)
    from .config import apply_overrides, build_config

    config = build_config(cls.Config, apply_overrides({}, args.overrides), f"dataset {cls.name}")
    if files is not None and not _print_files(cls.name, data_dir, files):
        return EXIT_CONFIG  # a file is missing or fails its checksum
    return EXIT_OK if _print_contents(cls, config, data_dir) else EXIT_CONFIG


def _data_doctor(args: argparse.Namespace) -> int:
    from . import doctor
    from .checks import exit_code
    from .run import Runner

    if args.sample < 1:
        raise ConfigError(f"--sample: expected >= 1, got {args.sample}")
    plugins, matrix = load_plugins_and_matrix(args)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, progress=False)
    checks = doctor.diagnose(runner, matrix, sample=args.sample)
    code = exit_code(checks)
    if args.json:
        print(json.dumps({"matrix": matrix.name, "exit_code": code, "checks": [c.as_dict() for c in checks]},
                         indent=2, default=str))
    else:
        for check in checks:
            print(check.line())
        print(f"matrix '{matrix.name}': {doctor.summary(checks)}")
    return code


def _data_download(args: argparse.Namespace, name: str, data_dir: Path, files: list[RemoteFile]) -> int:
    from .download import download

    summary = download(data_dir, name, files, base_url=args.base_url, progress=not args.no_progress)
    print(f"{name}: {len(summary.downloaded)} files downloaded ({summary.bytes:,} bytes), "
          f"{len(summary.already_present)} already present, in {data_dir / name}")
    return EXIT_OK


def _print_files(name: str, data_dir: Path, files: list[RemoteFile]) -> bool:
    """Print the state of every file; True when all are present."""
    from .download import BAD, MISSING, PRESENT, check

    statuses = check(data_dir, name, files)
    print(f"{name}: {data_dir / name}")
    for s in statuses:
        print(f"  {s.state:<13} {s.file.path}")
    counts = {state: sum(s.state == state for s in statuses) for state in (PRESENT, MISSING, BAD)}
    print(f"{len(statuses)} files: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    if counts[PRESENT] < len(statuses):
        print(f"run `bench data download {name}` to fetch the missing or bad files")
        print(f"bench: error: {name}: {len(statuses) - counts[PRESENT]} of {len(statuses)} annotation files are "
              f"missing or fail their checksum in {data_dir / name}", file=sys.stderr)
        return False
    return True


def _print_contents(cls: Any, config: Any, data_dir: Path) -> bool:
    """Load the dataset and print its splits, the segments the protocol dropped and the class
    counts; False (after saying why) when it cannot load."""
    try:
        data = cls(config).load(data_dir)
    except Exception as exc:  # reported as one line, not as a traceback
        print(f"cannot load {cls.name}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return False
    from tabulate import tabulate

    rows = [[split, len({s.video for s in samples}), len(samples),
             sum(data.dropped.get(split, {}).values()), "; ".join(f"{n} {why}" for why, n in data.dropped.get(split, {}).items())]
            for split, samples in data.splits.items()]
    print(tabulate(rows, headers=["split", "videos", "segments", "dropped", "why"]))
    c = data.classes
    print(f"classes: {len(c.actions)} actions, {len(c.verbs)} verbs, {len(c.nouns)} nouns")
    return True


if __name__ == "__main__":
    sys.exit(main())
