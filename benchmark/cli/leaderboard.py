"""`bench leaderboard`: build leaderboards from run records."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..arguments import add_plugin_args, load_plugins
from ..errors import ConfigError
from .common import EXIT_OK, command_line


def add_parser(sub: Any) -> None:
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


def run(args: argparse.Namespace) -> int:
    from .. import report
    from ..run import Runner
    from ..store import RunStore

    plugins = load_plugins(args)
    if args.matrix:
        from ..matrix import load_matrix

        matrix = load_matrix(args.matrix, plugins, args.overrides)
        runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, progress=False)
        if not any(runner.store.read_record(j.run_id) for j in runner.plan(matrix)):
            raise ConfigError(
                f"{args.runs_dir}: no record of any cell of matrix '{matrix.name}' (was it run with other "
                "--set values or another --runs-dir?)"
            )
        paths = report.write_matrix(plugins, runner, matrix, args.out, command_line(),
                                         args.primary, args.baseline, args.reference)
    else:
        records = list(RunStore(args.runs_dir).records())
        if not records:
            raise ConfigError(f"{args.runs_dir}: no run records found")
        names = args.baseline if args.baseline is not None else plugins.registries["baseline"].names()
        tables = [plugins.get("baseline", n, "--baseline") for n in names]
        board = report.build(records, tables, args.primary or "top5_action", reference=args.reference)
        paths = report.write(board, args.out, "leaderboard", "Leaderboard", command_line(), records)
    print("\n".join(str(p) for p in paths))
    return EXIT_OK
