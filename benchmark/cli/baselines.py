"""`bench baselines`: list the published baseline tables or write them as Markdown."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..arguments import add_plugin_args, load_plugins
from .common import EXIT_OK, command_line, short


def add_parser(sub: Any) -> None:
    base = sub.add_parser("baselines", help="list the published baseline tables or write them as Markdown")
    add_plugin_args(base)
    base.add_argument("--out", type=Path, default=None,
                      help="write one <table>.md per table into this folder (e.g. leaderboards/baselines)")


def run(args: argparse.Namespace) -> int:
    from .. import atomic
    from ..baselines import render_markdown

    plugins = load_plugins(args)
    registry = plugins.registries["baseline"]
    for name in registry.names():
        table = registry.entries[name].obj
        if args.out is None:
            print(f"{name}: {len(table.rows)} rows ({', '.join(sorted({r.dataset for r in table.rows}))}) - "
                  f"{short(table.citation, 90)}")
            continue
        path = args.out / f"{name}.md"
        atomic.write_text(path, render_markdown(table, command_line()))
        print(path)
    return EXIT_OK
