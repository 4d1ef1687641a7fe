"""What every subcommand shares: exit codes and the command line that produced an output."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED_CELLS, EXIT_CONFIG = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


def command_line() -> str:
    return "bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def resolve_data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return args.data_dir
    from ..run import default_data_dir

    return default_data_dir()


def short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def unavailable_notes(runner: Any) -> list[str]:
    """One line per feature source and teacher corpus that a plan without the files found
    missing (``Runner.plan(require_features=False)``)."""
    notes = [f"note: feature source '{name}' is not available here ({reason}); `bench run` needs it"
             for name, reason in sorted(runner.unavailable_features.items())]
    notes += [f"note: the corpus of teacher '{name}' is not available here ({reason}); `bench run` needs it"
              for name, reason in sorted(runner.unavailable_corpora.items())]
    return notes
