"""Where the time of a matrix run went: wall time, teacher fits, and per (dataset, student) the
feature, training and total seconds and the peak memory of its cells, from the records the run
wrote. Prints Markdown (the tables of docs/performance.md).

    BENCH_DATA_DIR=../shared/data python scripts/stage_times.py --matrix default [--runs-dir runs]

Cells recorded by earlier runs count too: run it after a run that started from an empty runs
folder to describe one run.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def tables(records: list[dict]) -> str:
    """The Markdown report of a list of cell records."""
    import pandas as pd
    from tabulate import tabulate

    ok = [r for r in records if r.get("status") == "ok"]
    lines = []
    starts = [_time(r["started_at"]) for r in records if r.get("started_at")]
    ends = [_time(r["ended_at"]) for r in records if r.get("ended_at")]
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    cell_s = sum(r["timings"].get("total_s", 0.0) for r in records)
    lines.append(f"{len(records)} cells ({len(ok)} ok, {len(records) - len(ok)} failed); first cell start to last "
                 f"cell end {wall / 60:.1f} min; cells' own time summed {cell_s / 60:.1f} min "
                 f"({cell_s / wall:.2f} cells running on average)\n")

    fits = []
    for r in ok:
        cache = r.get("teacher_cache") or {}
        if cache and not cache.get("reused"):
            fits.append({"dataset": r["cell"]["dataset"], "teacher": r["cell"]["teacher"],
                         "fit + soft labels (s)": r["timings"].get("teacher_s"),
                         "teacher top-5 (val)": (r.get("teacher_metrics") or {}).get("top5_action"),
                         "cells reusing it": sum(1 for o in ok if (o.get("teacher_cache") or {}).get("key") == cache["key"]) - 1})
    if fits:
        df = pd.DataFrame(fits).sort_values(["dataset", "teacher"])
        total = df["fit + soft labels (s)"].sum()
        lines.append("Teachers, each fitted once per dataset (inside the first cell that needs it):\n")
        lines.append(tabulate(df, headers="keys", tablefmt="github", showindex=False, floatfmt=".1f"))
        lines.append(f"\nAll teacher fits: {total / 60:.1f} min of cell time.\n")

    rows = []
    for r in ok:
        t = r["timings"]
        rows.append({"dataset": r["cell"]["dataset"], "student": r["cell"]["student"], "features_s": t.get("features_s", 0.0),
                     "train_eval_s": t.get("train_eval_s", 0.0), "total_s": t.get("total_s", 0.0),
                     "teacher_s": t.get("teacher_s", 0.0), "peak_rss_mb": t.get("peak_rss_mb")})
    if rows:
        df = pd.DataFrame(rows)
        g = df.groupby(["dataset", "student"])
        out = pd.DataFrame({
            "cells": g.size(),
            "features (s, max / median)": g["features_s"].max().map("{:.1f}".format) + " / " + g["features_s"].median().map("{:.1f}".format),
            "train + eval (s, mean)": g["train_eval_s"].mean().round(1),
            "cell total (s, mean)": g["total_s"].mean().round(1),
            "cell total (s, sum)": g["total_s"].sum().round(0),
            "peak RSS (MB, max)": g["peak_rss_mb"].max().round(0),
        }).reset_index()
        lines.append("Cells by dataset and student (cell total includes its teacher fit, if it did one):\n")
        lines.append(tabulate(out, headers="keys", tablefmt="github", showindex=False))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmark.matrix import load_matrix
    from benchmark.plugin_manager import get_plugins
    from benchmark.run import Runner

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--matrix", default="default")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    plugins = get_plugins()
    matrix = load_matrix(args.matrix, plugins, args.overrides)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, progress=False)
    records = [r for r in (runner.store.read_record(j.run_id) for j in runner.plan(matrix)) if r is not None]
    if not records:
        print(f"no records of matrix '{matrix.name}' in {args.runs_dir}", file=sys.stderr)
        return 2
    print(tables(records), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
