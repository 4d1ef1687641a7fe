"""`bench data`: download and check the annotation files of a dataset; check what a matrix needs."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..arguments import add_matrix_args, add_plugin_args, load_plugins, load_plugins_and_matrix
from ..errors import ConfigError
from .common import EXIT_CONFIG, EXIT_OK, resolve_data_dir

if TYPE_CHECKING:
    from ..download import RemoteFile


def add_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="download and check the annotation files of a dataset")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    dl = data_sub.add_parser("download", help="fetch missing files of a dataset and verify their sha256")
    info = data_sub.add_parser("info", help="show which files of a dataset are present and what they hold")
    info.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="a setting of the dataset's config, e.g. --set video_start=reference")
    for p in (dl, info):
        p.add_argument("dataset", metavar="DATASET", help="a registered dataset name (see `bench plugins`)")
        p.add_argument("--data-dir", type=Path, default=None,
                       help="annotation files (default: $BENCH_DATA_DIR or ~/.cache/lm2video-bench/data)")
        add_plugin_args(p)
    dl.add_argument("--base-url", default=None, metavar="URL",
                    help="fetch URL/DATASET/PATH instead of the manifest URLs (a mirror; also BENCH_DATA_BASE_URL)")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    doctor = data_sub.add_parser("doctor", help="check everything a matrix needs before training: annotations, "
                                               "splits, feature coverage and values, teacher caches, class lists")
    add_matrix_args(doctor)
    add_plugin_args(doctor)
    doctor.add_argument("--runs-dir", type=Path, default=Path("runs"), help="whose teacher cache to check (default: runs/)")
    doctor.add_argument("--sample", type=int, default=256, metavar="N", help="feature vectors per split and modality "
                                                                              "checked for NaN, Inf and zeros (default: 256)")
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")


def run(args: argparse.Namespace) -> int:
    """`bench data download|info DATASET`: fetch or inspect the files of a dataset's manifest;
    `bench data doctor`: every check a matrix's data can get before training."""
    if args.data_command == "doctor":
        return _data_doctor(args)
    cls = load_plugins(args).get("dataset", args.dataset, "DATASET")
    data_dir = resolve_data_dir(args)
    files = _manifest(cls)
    if args.data_command == "download":
        return EXIT_OK if files is None else _data_download(args, cls.name, data_dir, files)
    from ..config import apply_overrides, build_config

    config = build_config(cls.Config, apply_overrides({}, args.overrides), f"dataset {cls.name}")
    if files is not None and not _print_files(cls.name, data_dir, files):
        return EXIT_CONFIG  # a file is missing or fails its checksum
    return EXIT_OK if _print_contents(cls, config, data_dir) else EXIT_CONFIG


def _data_doctor(args: argparse.Namespace) -> int:
    from .. import doctor
    from ..checks import exit_code
    from ..run import Runner

    if args.sample < 1:
        raise ConfigError(f"--sample: expected >= 1, got {args.sample}")
    plugins, matrix = load_plugins_and_matrix(args)
    runner = Runner(plugins, args.runs_dir, data_dir=args.data_dir, progress=False)
    checks = doctor.diagnose(runner, matrix, sample=args.sample)
    code = exit_code(checks)
    if args.json:
        print(json.dumps({"matrix": matrix.name, "exit_code": code, "checks": [c.as_dict() for c in checks]},
                         indent=2, default=str))
    else:
        for check in checks:
            print(check.line())
        print(f"matrix '{matrix.name}': {doctor.summary(checks)}")
    return code


def _data_download(args: argparse.Namespace, name: str, data_dir: Path, files: list[RemoteFile]) -> int:
    from ..download import download

    summary = download(data_dir, name, files, base_url=args.base_url, progress=not args.no_progress)
    print(f"{name}: {len(summary.downloaded)} files downloaded ({summary.bytes:,} bytes), "
          f"{len(summary.already_present)} already present, in {data_dir / name}")
    return EXIT_OK


def _print_files(name: str, data_dir: Path, files: list[RemoteFile]) -> bool:
    """Print the state of every file; True when all are present."""
    from ..download import BAD, MISSING, PRESENT, check

    statuses = check(data_dir, name, files)
    print(f"{name}: {data_dir / name}")
    for s in statuses:
        print(f"  {s.state:<13} {s.file.path}")
    counts = {state: sum(s.state == state for s in statuses) for state in (PRESENT, MISSING, BAD)}
    print(f"{len(statuses)} files: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    if counts[PRESENT] < len(statuses):
        print(f"run `bench data download {name}` to fetch the missing or bad files")
        print(f"bench: error: {name}: {len(statuses) - counts[PRESENT]} of {len(statuses)} annotation files are "
              f"missing or fail their checksum in {data_dir / name}", file=sys.stderr)
        return False
    return True


def _print_contents(cls: Any, config: Any, data_dir: Path) -> bool:
    """Load the dataset and print its splits, the segments the protocol dropped and the class
    counts; False (after saying why) when it cannot load."""
    try:
        data = cls(config).load(data_dir)
    except Exception as exc:  # reported as one line, not as a traceback
        print(f"cannot load {cls.name}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return False
    from tabulate import tabulate

    rows = [[split, len({s.video for s in samples}), len(samples),
             sum(data.dropped.get(split, {}).values()), "; ".join(f"{n} {why}" for why, n in data.dropped.get(split, {}).items())]
            for split, samples in data.splits.items()]
    rows += [[f"{split} (no labels)", len({s.video for s in samples}), len(samples), 0, ""]
             for split, samples in data.unlabelled.items()]
    print(tabulate(rows, headers=["split", "videos", "segments", "dropped", "why"]))
    c = data.classes
    print(f"classes: {len(c.actions)} actions, {len(c.verbs)} verbs, {len(c.nouns)} nouns "
          f"({_present_classes(data)} in the labelled splits)")
    if data.subset_sources:
        val = {s.uid for s in data.splits["val"]}
        print("validation subsets: " + "; ".join(
            f"{name} {len(set(data.subsets[name]) & val)} segments" if name in data.subsets
            else f"{name} missing ({data.subset_sources[name]})" for name in data.subset_sources))
    return True


def _present_classes(data: Any) -> str:
    samples = [s for split in data.splits.values() for s in split]
    counts = (len({s.target.action for s in samples}), len({s.target.verb for s in samples}),
              len({s.target.noun for s in samples}))
    return f"{counts[0]} actions, {counts[1]} verbs, {counts[2]} nouns"


def _manifest(cls: Any) -> list[RemoteFile] | None:
    """The dataset's manifest entries, or None (with a message) if it has no files to fetch."""
    from ..download import load_manifest

    if cls.manifest_file is None:
        what = "is generated and needs no download" if cls.data_kind == "synthetic" else \
            "has no manifest: bench cannot download its files"
        print(f"dataset '{cls.name}' {what}")
        return None
    return load_manifest(cls.manifest_file)
