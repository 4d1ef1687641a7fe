"""The ``bench`` command line: one module per subcommand, each declaring its arguments
(``add_parser``) and running library functions (``run``)."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .. import __version__
from ..arguments import PROFILES
from ..errors import ConfigError, DownloadError, PluginError
from . import baselines, data, features, leaderboard, logs, plugin_list, reproduce, run, status, submit, teachers, validate
from .common import EXIT_CONFIG, EXIT_FAILED_CELLS, EXIT_INTERRUPTED, EXIT_OK

#: subcommand -> its module, in the order ``bench --help`` lists them
COMMANDS = {"run": run, "validate": validate, "plugins": plugin_list, "teachers": teachers, "baselines": baselines,
            "leaderboard": leaderboard, "data": data, "features": features, "logs": logs, "reproduce": reproduce, "status": status,
            "submit": submit}

__all__ = ["COMMANDS", "EXIT_CONFIG", "EXIT_FAILED_CELLS", "EXIT_INTERRUPTED", "EXIT_OK", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="The bench command line: run, validate, plugins, "
                                     "teachers, baselines, leaderboard, data, features, logs, reproduce, status, submit.")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "profile", None):
        if "--matrix" in (argv if argv is not None else sys.argv[1:]):
            parser.error("--profile and --matrix are alternatives: give one")
        args.matrix = PROFILES[args.profile]
    try:
        return COMMANDS[args.command].run(args)
    except (ConfigError, PluginError, DownloadError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("bench: interrupted; finished cells keep their records, the rest run next time", file=sys.stderr)
        return EXIT_INTERRUPTED
