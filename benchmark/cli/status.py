"""`bench status`: where every cell of a matrix stands, across every runner sharing the runs
folder (done, running by which process and host with its stage and heartbeat, failed with its
reason, pending), with the totals and the ETA."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..arguments import add_matrix_args, add_plugin_args, load_plugins_and_matrix
from .common import EXIT_OK


def add_parser(sub: Any) -> None:
    status = sub.add_parser("status", help="where every cell of a matrix stands, whoever runs it")
    add_matrix_args(status)
    add_plugin_args(status)
    status.add_argument("--runs-dir", type=Path, default=Path("runs"), help="the runs folder (default: runs/)")
    status.add_argument("--watch", nargs="?", type=float, const=2.0, default=None, metavar="SECONDS",
                        help="refresh every SECONDS (default 2) until every cell is finished or Ctrl-C")


def run(args: argparse.Namespace) -> int:
    from ..monitor import read_state
    from ..monitor.table import render_table
    from ..run import Runner

    plugins, matrix = load_plugins_and_matrix(args)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, progress=False)
    jobs = runner.plan(matrix, require_features=False)

    def state() -> Any:
        return read_state(matrix.name, jobs, runner.store)

    if args.watch is None:
        print(render_table(state()))
        return EXIT_OK
    interval = max(0.2, float(args.watch))
    if sys.stdout.isatty():
        from rich.live import Live
        from rich.text import Text

        with Live(auto_refresh=False) as live:
            while True:
                current = state()
                live.update(Text(render_table(current)), refresh=True)
                if current.complete:
                    break
                time.sleep(interval)
        return EXIT_OK
    while True:
        current = state()
        print(render_table(current), flush=True)
        if current.complete:
            return EXIT_OK
        print(flush=True)
        time.sleep(interval)
