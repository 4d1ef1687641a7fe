"""`bench validate`: resolve and type-check every cell without running."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..arguments import add_matrix_args, add_plugin_args, load_plugins_and_matrix
from .common import EXIT_OK, unavailable_notes


def add_parser(sub: Any) -> None:
    val = sub.add_parser("validate", help="resolve and type-check every cell without running")
    add_matrix_args(val)
    add_plugin_args(val)
    val.add_argument("--print-config", action="store_true",
                     help="print every cell's fully resolved configuration (YAML, or JSON with --json)")
    val.add_argument("--json", action="store_true", help="with --print-config: JSON instead of YAML")


def run(args: argparse.Namespace) -> int:
    from ..run import Runner

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
    for note in unavailable_notes(runner):
        print(f"  {note}")
    return EXIT_OK


def _print_resolved(plugins: Any, jobs: list[Any], as_json: bool) -> None:
    from ..resolved import resolved_config

    cells = [resolved_config(j.cell, j.run_id, plugins) for j in jobs]
    if as_json:
        print(json.dumps(cells, indent=2, default=str))
    else:
        import yaml

        print(yaml.safe_dump(cells, sort_keys=False, default_flow_style=False), end="")
