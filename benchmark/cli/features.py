"""`bench features`: prepare feature files: extract backbone features from frames."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..arguments import add_plugin_args, load_plugins
from .common import EXIT_OK, resolve_data_dir


def add_parser(sub: Any) -> None:
    feats = sub.add_parser("features", help="prepare feature files: extract backbone features from frames")
    feats_sub = feats.add_subparsers(dest="features_command", required=True)
    ex = feats_sub.add_parser("extract", help="run a timm backbone over JPEG frames into an LMDB (RULSTM layout)")
    ex.add_argument("--frames", type=Path, required=True, metavar="ROOT", help="folder holding the frames")
    ex.add_argument("--template", default="{video}/frame_{frame:010d}.jpg",
                    help="path of a frame under ROOT; placeholders {video}, {participant}, {frame} "
                         "(default: %(default)s)")
    which = ex.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", metavar="NAME", help="extract the frames this dataset's samples observe")
    which.add_argument("--all-frames", action="store_true", help="extract every frame file under ROOT")
    ex.add_argument("--out", type=Path, required=True, metavar="LMDB_DIR", help="LMDB folder to write")
    ex.add_argument("--backbone", required=True, help="a timm model name, e.g. vit_base_patch16_224")
    ex.add_argument("--weights", default="", metavar="FILE", help="local .safetensors (or .pth) weights")
    ex.add_argument("--pretrained", action="store_true", help="timm hub weights (network or hub cache)")
    ex.add_argument("--batch-size", type=int, default=64)
    ex.add_argument("--image-size", type=int, default=0, help="square input size (default: the backbone's)")
    ex.add_argument("--data-dir", type=Path, default=None,
                    help="annotation files (default: $BENCH_DATA_DIR or ~/.cache/lm2video-bench/data)")
    ex.add_argument("--splits", nargs="+", default=["train", "val"], help="splits whose frames are extracted")
    ex.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ex.add_argument("--workers", type=int, default=4, help="JPEG decoding threads")
    ex.add_argument("--skip-missing", action="store_true",
                    help="leave frames without a file out (the lmdb source then searches back or zero-fills)")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing LMDB_DIR")
    ex.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_plugin_args(ex)


def run(args: argparse.Namespace) -> int:
    """`bench features extract`: backbone features of JPEG frames into an LMDB."""
    from ..extract import extract_features

    data = None
    if args.dataset:
        cls = load_plugins(args).get("dataset", args.dataset, "--dataset")
        data = cls(cls.Config()).load(resolve_data_dir(args))
    result = extract_features(
        args.frames, args.template, args.out, args.backbone, data=data, splits=args.splits,
        all_frames=args.all_frames, weights=args.weights, pretrained=args.pretrained,
        batch_size=args.batch_size, image_size=args.image_size, device=args.device,
        skip_missing=args.skip_missing, overwrite=args.overwrite, workers=args.workers,
        progress=not args.no_progress,
    )
    skipped = f", {result.skipped} frames without a file skipped" if result.skipped else ""
    print(f"{result.out}: {result.frames} frames, {result.dim}-d {args.backbone} features, "
          f"{result.seconds:.1f} s{skipped}")
    return EXIT_OK
