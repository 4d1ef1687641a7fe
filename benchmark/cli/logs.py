"""`bench logs`: summarise the loss logs of one cell or of every cell of a matrix."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..arguments import add_plugin_args, load_plugins
from ..errors import ConfigError
from .common import EXIT_OK


def add_parser(sub: Any) -> None:
    logs = sub.add_parser("logs", help="summarise the loss logs of one cell or of every cell of a matrix")
    logs.add_argument("run_id", nargs="?", default=None, metavar="RUN_ID",
                      help="a run id (or a unique prefix of one) under RUNS_DIR")
    logs.add_argument("--matrix", default=None, metavar="NAME|PATH", help="every cell of this matrix instead")
    logs.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    logs.add_argument("--data-dir", type=Path, default=None)
    logs.add_argument("--runs-dir", type=Path, default=Path("runs"))
    add_plugin_args(logs)


def run(args: argparse.Namespace) -> int:
    """`bench logs RUN_ID | --matrix NAME`: a compact summary of per-cell loss logs."""
    from .. import checkpoint, tracking
    from ..store import RunStore

    store = RunStore(args.runs_dir)
    if args.matrix:
        from ..matrix import load_matrix
        from ..run import Runner

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
