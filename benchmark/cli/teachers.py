"""`bench teachers`: fit every teacher of a matrix (cached) and write a teacher-only leaderboard."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..arguments import add_matrix_args, add_plugin_args, load_plugins_and_matrix
from ..errors import ConfigError
from .common import EXIT_OK, command_line


def add_parser(sub: Any) -> None:
    teach = sub.add_parser("teachers", help="fit every teacher of a matrix (cached) and write a teacher-only leaderboard")
    add_matrix_args(teach)
    add_plugin_args(teach)
    teach.add_argument("--runs-dir", type=Path, default=Path("runs"))
    teach.add_argument("--cache-dir", type=Path, default=None)
    teach.add_argument("--leaderboard-dir", type=Path, default=Path("leaderboards"))
    teach.add_argument("--baseline", action="append", default=None, metavar="TABLE",
                       help="published teacher tables to show (default: ghosh2023-epic55-teachers)")
    teach.add_argument("--show", action="store_true",
                       help="print where each teacher's soft labels come from (checkpoint, corpus and its sha256, "
                            "stage-A steps, verbalisation, samples covered) instead of writing the leaderboard")


def run(args: argparse.Namespace) -> int:
    """Teachers alone with oracle history: next-action metrics on val, next to published ones."""
    from .. import report
    from ..run import Runner

    plugins, matrix = load_plugins_and_matrix(args)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, cache_dir=args.cache_dir)
    records = runner.fit_teachers(matrix, echo=lambda line: print(line, file=sys.stderr))
    if not records:
        raise ConfigError(f"matrix '{matrix.name}' has no teacher other than 'none'")
    if args.show:
        print(provenance_table(records))
        return EXIT_OK
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
                              command_line())
    print("\n".join(str(p) for p in paths))
    return EXIT_OK


def provenance_table(records: list[dict[str, Any]]) -> str:
    """One row per fitted teacher: where its soft labels come from."""
    from tabulate import tabulate

    rows = []
    for r in records:
        info = r.get("teacher_info") or {}
        corpus = info.get("corpus") or {}
        stage_a = info.get("stage_a") or {}
        texts = info.get("texts") or {}
        uids = info.get("uids") or {}
        empty = info.get("empty_history") or {}
        rows.append([
            r["cell"]["label"], info.get("init", ""), info.get("checkpoint", ""),
            f"{corpus['name']} {corpus['fingerprint']}" if corpus else "none",
            stage_a.get("steps", 0), texts.get("verbalisation", ""), str(texts.get("sha256", ""))[:12],
            " / ".join(str(uids.get(s, "?")) for s in ("train", "val")),
            f"{empty.get('mode', '')} ({empty.get('train', 0)} / {empty.get('val', 0)})" if empty else "",
            r["teacher_cache_key"],
        ])
    return tabulate(rows, headers=["teacher", "init", "checkpoint", "corpus (fingerprint)", "stage-A steps",
                                   "verbalisation", "texts sha256", "samples train / val",
                                   "empty history (train / val)", "cache key"])
