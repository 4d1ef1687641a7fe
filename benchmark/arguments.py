"""The command-line arguments that name plugins and a matrix, shared by `bench` and by
``python -m benchmark.run.worker plan``, and loading what they name."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .matrix import Matrix
    from .plugin_manager import Plugins


def add_plugin_args(p: argparse.ArgumentParser) -> None:
    """``--plugins-dir``."""
    p.add_argument("--plugins-dir", action="append", default=[], metavar="DIR",
                   help="load every *.py in DIR as a plugin (repeatable; also BENCH_PLUGINS_DIR)")


#: named profiles: the matrix each one runs
PROFILES = {"cpu": "default", "paper": "paper"}


def add_matrix_args(p: argparse.ArgumentParser) -> None:
    """``--matrix``, ``--profile``, ``--set``, ``--data-dir``."""
    p.add_argument("--matrix", nargs="?", const="default", default="default", metavar="NAME|PATH",
                   help="a shipped matrix name (see benchmark/matrices) or a YAML path; default: 'default'")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None,
                   help="a named profile instead of --matrix: cpu (the default matrix: offline, no GPU) or "
                        "paper (the published configurations: GPUs, hub weights, real features)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a matrix key, e.g. --set train.epochs=3 --set matrix.seed=[0,1]")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="annotation files (default: $BENCH_DATA_DIR or ~/.cache/lm2video-bench/data)")


def load_plugins(args: argparse.Namespace) -> "Plugins":
    """The registries, with ``--plugins-dir``; their warnings printed."""
    from .plugin_manager import get_plugins

    plugins = get_plugins(args.plugins_dir)
    for warning in plugins.warnings:
        print(f"bench: warning: {warning}", file=sys.stderr)
    return plugins


def load_plugins_and_matrix(args: argparse.Namespace) -> tuple["Plugins", "Matrix"]:
    from .matrix import load_matrix

    plugins = load_plugins(args)
    matrix = load_matrix(args.matrix, plugins, args.overrides)
    return plugins, matrix
