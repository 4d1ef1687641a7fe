"""`bench reproduce`: run (or reuse) the cell of a reproduction card and hold it against the
published numbers."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..arguments import add_plugin_args, load_plugins
from ..errors import ConfigError
from .common import EXIT_FAILED_CELLS, EXIT_OK


def add_parser(sub: Any) -> None:
    rep = sub.add_parser("reproduce", help="run the cell of a reproduction card and compare it with the published row")
    rep.add_argument("card", nargs="?", default=None, help="a card name (`bench reproduce --list`)")
    rep.add_argument("--check", action="store_true",
                     help="compare every card whose cells have records in RUNS_DIR, running nothing")
    rep.add_argument("--list", action="store_true", help="list the cards")
    rep.add_argument("--runs-dir", type=Path, default=Path("runs"))
    rep.add_argument("--cache-dir", type=Path, default=None)
    rep.add_argument("--data-dir", type=Path, default=None)
    rep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a key of the card's matrix (the comparison then says so)")
    add_plugin_args(rep)


def run(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    plugins = load_plugins(args)
    registry = plugins.registries["card"]
    if args.list:
        rows = [[c.name, c.matrix, "/".join(c.cell.values()), ", ".join(c.published), c.source]
                for c in (registry.get(n).obj for n in registry.names())]
        print(tabulate(rows, headers=["card", "matrix", "cell", "metrics", "published in"]))
        return EXIT_OK
    if args.check == bool(args.card):
        raise ConfigError("bench reproduce: give a card name or --check (and not both)")
    names = registry.names() if args.check else [args.card]
    outside = False
    for name in names:
        card = plugins.get("card", name, "bench reproduce")
        records = _records(card, plugins, args, run_missing=not args.check)
        if args.check and not records:
            print(f"{card.name}: no record in {args.runs_dir}")
            continue
        outside |= _report(card, records, args.overrides)
    return EXIT_FAILED_CELLS if outside else EXIT_OK


def _records(card: Any, plugins: Any, args: argparse.Namespace, run_missing: bool) -> list[dict[str, Any]]:
    """The records of the card's cells: read back, or run now (``run_missing``)."""
    from ..cards import card_matrix
    from ..run import Runner

    matrix = card_matrix(card, plugins, args.overrides)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, cache_dir=args.cache_dir, progress=False)
    if run_missing:
        runner.run(matrix, echo=lambda line: print(line, file=sys.stderr))
    jobs = runner.plan(matrix, require_features=False)
    records = [runner.store.read_record(j.run_id) for j in jobs]
    return [r for r in records if r is not None and r.get("status") == "ok"]


def _report(card: Any, records: list[dict[str, Any]], overrides: list[str]) -> bool:
    """Print measured against published; True when a metric is outside its tolerance."""
    from tabulate import tabulate

    from ..cards import compare

    rows, outside = [], False
    for c in compare(card, records):
        verdict = "within" if c.within else "OUTSIDE"
        outside |= not c.within
        measured = f"{c.measured:.2f}" if c.measured is not None else "-"
        rows.append([c.metric, f"{c.published:.2f}", measured, f"±{c.tolerance:g}", c.seeds, verdict])
    print(f"{card.name}: {card.description or '/'.join(card.cell.values())} (published in {card.source})"
          + (f"; with --set {' '.join(overrides)}" if overrides else ""))
    print(tabulate(rows, headers=["metric", "published", "measured", "tolerance", "seeds", ""]))
    return outside
