"""Paired comparison of two rows of a matrix over their matched seeds (the leaderboards pair
every row with the no-teacher row; this pairs any two, e.g. a teacher's KL against the
uniform-target control at the same temperature).

    python scripts/paired_rows.py --matrix distill-sweep --metric top1_action \
        --a bert/kl-t2 --b none/uniform-t2 [--dataset egtea] [--student avt]

Rows are TEACHER/LOSS (axis values of the matrix). Prints per-seed values, the paired
difference a - b (mean ± std, seeds where a is higher) and the two-sided paired t-test p-value.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from benchmark.report import paired_test
    from benchmark.matrix import load_matrix
    from benchmark.plugin_manager import get_plugins
    from benchmark.run import Runner

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--matrix", required=True)
    ap.add_argument("--a", required=True, help="TEACHER/LOSS")
    ap.add_argument("--b", required=True, help="TEACHER/LOSS")
    ap.add_argument("--metric", default="top1_action")
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--student", default=None)
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    plugins = get_plugins()
    matrix = load_matrix(args.matrix, plugins, args.overrides)
    runner = Runner(plugins, args.runs_dir, progress=False)
    values: dict[tuple[str, str], dict[int, float]] = {}
    for job in runner.plan(matrix):
        c = job.cell
        if (args.dataset and c.dataset != args.dataset) or (args.student and c.student != args.student):
            continue
        rec = runner.store.read_record(job.run_id)
        if rec and rec.get("status") == "ok" and rec["metrics"].get(args.metric) is not None:
            values.setdefault((c.teacher, c.loss), {})[c.seed] = float(rec["metrics"][args.metric])
    rows = {}
    for name in (args.a, args.b):
        teacher, _, loss = name.partition("/")
        if (teacher, loss) not in values:
            print(f"paired_rows: no finished cells for row '{name}' (rows: "
                  f"{', '.join(sorted(f'{t}/{l}' for t, l in values))})", file=sys.stderr)
            return 2
        rows[name] = values[(teacher, loss)]
    seeds = sorted(set(rows[args.a]) & set(rows[args.b]))
    diffs = [rows[args.a][s] - rows[args.b][s] for s in seeds]
    for s, d in zip(seeds, diffs):
        print(f"seed {s}: {args.a} {rows[args.a][s]:.2f}  {args.b} {rows[args.b][s]:.2f}  diff {d:+.2f}")
    mean, std, p = paired_test(diffs)
    print(f"{args.a} - {args.b} ({args.metric}): {mean:+.2f} ± {std:.2f} over {len(diffs)} seeds, "
          f"{sum(d > 0 for d in diffs)}/{len(diffs)} higher, paired t-test p = {p:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
