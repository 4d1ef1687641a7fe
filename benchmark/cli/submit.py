"""`bench submit`: the challenge submission files of a dataset's test sets, from one finished
cell or a weighted fusion of several, checked against the challenge layout before they are
written; with ``--evaluate SPLIT``, the metrics of that fusion on a labelled split instead."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..arguments import add_plugin_args, load_plugins
from ..errors import ConfigError, DataError
from .common import EXIT_OK, resolve_data_dir


def add_parser(sub: Any) -> None:
    p = sub.add_parser("submit", help="write the challenge submission files of a dataset's test sets from "
                                      "finished cells (one, or a weighted fusion)")
    p.add_argument("runs", nargs="+", metavar="RUN[=WEIGHT]",
                   help="a run id (under --runs-dir) or a run folder, optionally with its fusion weight (default 1)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run ids are looked up (default: runs/)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the files (default: submissions/<dataset>); existing files are replaced")
    p.add_argument("--sls", type=int, nargs=3, default=None, metavar=("PT", "TL", "TD"),
                   help="EPIC-100's self-declared supervision levels, 0-5 each: pretraining, training labels, "
                        "training data (required by EPIC-100's challenge)")
    p.add_argument("--evaluate", metavar="SPLIT", default=None,
                   help="score the fusion on a labelled split (e.g. val) with the cells' metrics instead of "
                        "writing files; an unlabelled split is refused")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="annotation files (default: $BENCH_DATA_DIR or ~/.cache/lm2video-bench/data)")
    add_plugin_args(p)


@dataclass
class RunRef:
    path: Path
    weight: float
    record: dict[str, Any]


def parse_run(text: str, runs_dir: Path) -> RunRef:
    """``RUN`` or ``RUN=WEIGHT``: a finished (``ok``) cell's folder and its weight."""
    from ..status import OK
    from ..store import RECORD

    name, _, weight_text = text.partition("=")
    try:
        weight = float(weight_text) if weight_text else 1.0
    except ValueError:
        raise ConfigError(f"{text}: expected RUN=WEIGHT with a number, got weight {weight_text!r}") from None
    path = Path(name) if Path(name).is_dir() else runs_dir / name
    record_path = path / RECORD
    if not record_path.is_file():
        raise ConfigError(f"{name}: no run folder with a {RECORD} (looked in {path})")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{record_path}: not valid JSON: {exc}") from None
    if record.get("status") != OK:
        raise ConfigError(f"{record_path}: the cell did not finish (status {record.get('status')!r}): "
                          "only finished cells can be submitted")
    return RunRef(path, weight, record)


def _dataset(plugins: Any, record: dict[str, Any], data_dir: Path):
    from ..config import build_config

    name = record["components"]["dataset"]
    cls = plugins.get("dataset", name)
    dataset = cls(build_config(cls.Config, record["configs"]["dataset"], f"dataset {name}"))
    return dataset, dataset.load(data_dir)


def _fused(runs: list[RunRef], split: str, data: Any) -> tuple[Any, list[str]]:
    """The fused action probabilities of ``split`` and its data kinds; every run's rows must
    be the split's samples in order."""
    from .. import predictions, submission

    uids = [s.uid for s in data.samples(split)]
    sets = []
    for run in runs:
        p = predictions.read(run.path, split)
        if p.dataset_fingerprint != data.fingerprint:
            raise DataError(f"{run.path}: its predictions are of dataset {p.dataset_fingerprint}, the annotations "
                            f"here give {data.fingerprint}")
        if p.uids != uids:
            raise DataError(f"{run.path}: its {split} predictions cover other segments than {data.name}'s {split} split")
        sets.append(p)
    return submission.fuse([p.scores for p in sets], [r.weight for r in runs]), sorted({p.data_kind for p in sets})


def run(args: argparse.Namespace) -> int:
    from .. import atomic, submission

    plugins = load_plugins(args)
    runs = [parse_run(text, args.runs_dir) for text in args.runs]
    fingerprints = {r.record.get("dataset_fingerprint") for r in runs}
    if len(fingerprints) > 1:
        raise ConfigError(f"the runs are of different datasets or protocols ({', '.join(sorted(map(str, fingerprints)))}): "
                          "a fusion needs the same samples")
    dataset, data = _dataset(plugins, runs[0].record, resolve_data_dir(args))
    if args.evaluate:
        return _evaluate(plugins, runs, args.evaluate, data)
    fmt = type(dataset).challenge
    if fmt is None:
        raise ConfigError(f"dataset {data.name} has no challenge: there is no submission format to write")
    levels = None
    if fmt.supervision_levels:
        if args.sls is None:
            raise ConfigError(f"{data.name}'s challenge needs the supervision levels: --sls PT TL TD (0-5 each)")
        levels = submission.SupervisionLevels(*args.sls)
    if fmt.warning:
        print(f"warning: {fmt.warning}", file=sys.stderr)
    out = args.out or Path("submissions") / data.name
    written: dict[Path, dict[str, Any]] = {}
    kinds: set[str] = set()
    for split, filename in fmt.files.items():
        if split not in data.unlabelled:
            path = dataset.test_paths(resolve_data_dir(args)).get(split)
            raise DataError(f"{path}: file not found: the test segments of {split} (run `bench data download {data.name}`)")
        probs, split_kinds = _fused(runs, split, data)
        kinds.update(split_kinds)
        obj = submission.build(probs, [s.uid for s in data.unlabelled[split]], data.classes, fmt, levels)
        submission.validate(obj, fmt, [s.uid for s in data.unlabelled[split]], data.classes, str(out / filename))
        written[out / filename] = obj
    for path, obj in written.items():  # every file checked before any is written
        atomic.write_text(path, json.dumps(obj))
    provenance = {"dataset": data.name, "dataset_fingerprint": data.fingerprint, "data_kind": sorted(kinds),
                  "runs": [{"run": str(r.path), "run_id": r.record.get("run_id"), "weight": r.weight,
                            "cell": r.record.get("cell", {}).get("label")} for r in runs],
                  "files": [p.name for p in written]}
    atomic.write_json(out / "provenance.json", provenance)
    for path in written:
        print(path)
    if any(k != "real" for k in kinds):
        print(f"warning: these predictions come from {'/'.join(sorted(kinds))} features, not real video: the files "
              "check the format, they are not a result to submit", file=sys.stderr)
    return EXIT_OK


def _evaluate(plugins: Any, runs: list[RunRef], split: str, data: Any) -> int:
    import numpy as np

    if split in data.unlabelled:
        raise ConfigError(f"split {split!r} of {data.name} has no labels: it is scored by the challenge's server; "
                          "write its file with `bench submit` (without --evaluate) and upload it there")
    if split not in data.splits:
        data.samples(split)  # names the splits there are
    if split != "val":
        raise ConfigError(f"--evaluate {split}: the metrics score the validation split; give val")
    probs, kinds = _fused(runs, split, data)
    targets = np.array([s.target.action for s in data.splits[split]], dtype=np.int64)
    names = list(dict.fromkeys(m for r in runs for m in r.record.get("metrics", {})))
    scores = np.log(np.clip(probs, 1e-30, None))  # log-probabilities: the metrics rank or softmax them
    print(f"{data.name} {split}, fusion of {len(runs)} run(s), {'/'.join(kinds)} features:")
    for name in names:
        value = float(plugins.get("metric", name)().compute(scores, targets, data))
        print(f"  {name}: {value:.2f}" if np.isfinite(value) else f"  {name}: (undefined)")
    return EXIT_OK
