"""Paired comparison of the same cells run by two versions of a component (e.g. a student
before and after a fix), over their matched seeds, from the records of one runs folder.

    python scripts/paired_versions.py --runs-dir runs --matrix distill-egtea \
        --component student --a avt@1 --b avt@2 [--metric top1_action]

Prints, per row (dataset / student / teacher / loss), the per-seed values of both versions, the
paired difference b - a (mean ± std, seeds where b is higher) and the two-sided paired t-test
p-value.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from benchmark.report import paired_test

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--matrix", required=True)
    ap.add_argument("--component", default="student", help="dataset, teacher, student, loss or feature_source")
    ap.add_argument("--a", required=True, help="NAME@VERSION, as in a record's versions")
    ap.add_argument("--b", required=True, help="NAME@VERSION")
    ap.add_argument("--metric", default="top1_action")
    args = ap.parse_args(argv)
    values: dict[tuple[str, ...], dict[str, dict[int, float]]] = {}
    for path in sorted(args.runs_dir.glob("*/record.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        version = rec.get("versions", {}).get(args.component)
        if rec.get("matrix") != args.matrix or rec.get("status") != "ok" or version not in (args.a, args.b):
            continue
        c = rec["cell"]
        row = (c["dataset"], c["student"], c["teacher"], c["loss"])
        values.setdefault(row, {}).setdefault(version, {})[int(c["seed"])] = float(rec["metrics"][args.metric])
    if not values:
        print(f"paired_versions: no finished cells of matrix '{args.matrix}' with {args.component} "
              f"{args.a} or {args.b} in {args.runs_dir}", file=sys.stderr)
        return 2
    print(f"{args.metric}: {args.b} - {args.a} per row, paired over seeds")
    for row, by_version in sorted(values.items()):
        a, b = by_version.get(args.a, {}), by_version.get(args.b, {})
        seeds = sorted(set(a) & set(b))
        name = "/".join(row)
        if not seeds:
            print(f"{name}: no seed run by both versions")
            continue
        diffs = [b[s] - a[s] for s in seeds]
        mean, std, p = paired_test(diffs)
        per_seed = "  ".join(f"s{s} {a[s]:.2f}->{b[s]:.2f}" for s in seeds)
        print(f"{name}: {per_seed}  |  {sum(a[s] for s in seeds) / len(seeds):.2f} -> "
              f"{sum(b[s] for s in seeds) / len(seeds):.2f}, diff {mean:+.2f} ± {std:.2f}, "
              f"{sum(d > 0 for d in diffs)}/{len(diffs)} higher, p = {p:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
