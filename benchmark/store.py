"""One folder per cell under the runs folder; ``record.json`` is written last, atomically,
and is the completion marker.

    runs/<run_id>/config.json      resolved cell identity (written first)
    runs/<run_id>/log.rank0.txt    the cell's log
    runs/<run_id>/losses.jsonl     one line per training epoch
    runs/<run_id>/checkpoint/      mid-training checkpoint (only while the cell is unfinished)
    runs/<run_id>/progress.json    stage and steps of the running cell (only while unfinished)
    runs/<run_id>/record.json      metrics, timings, seeds, environment, status (written last)
    runs/_locks/<run_id>.lock      held by the runner that runs the cell (see locks.py)

Every file is replaced atomically (temporary file, fsync, rename); a missing or unreadable
record means "not done", so a runner killed at any moment leaves cells that simply run again.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import atomic

RECORD = "record.json"
CONFIG = "config.json"
LOCKS = "_locks"
#: temporary files of an atomic write older than this are leftovers of a killed process
STALE_TEMP_S = 60.0


@dataclass
class RunStore:
    root: Path

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def lock_path(self, run_id: str) -> Path:
        return self.root / LOCKS / f"{run_id}.lock"

    def read_record(self, run_id: str) -> dict[str, Any] | None:
        path = self.run_dir(run_id) / RECORD
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # an unreadable record counts as unfinished; it is rewritten

    def status(self, run_id: str) -> str:
        """``ok``, ``failed`` or ``pending`` (no valid record)."""
        record = self.read_record(run_id)
        return str(record.get("status", "pending")) if record else "pending"

    def prepare(self, run_id: str, identity: dict[str, Any]) -> Path:
        """Create the run folder, drop a stale record, write the resolved config."""
        run_dir = self.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RECORD).unlink(missing_ok=True)
        remove_stale_temps(run_dir)
        atomic.write_json(run_dir / CONFIG, identity)
        return run_dir

    def write_record(self, run_id: str, record: dict[str, Any]) -> Path:
        path = self.run_dir(run_id) / RECORD
        atomic.write_json(path, record)
        return path

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record under the root, in a stable order."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob(f"*/{RECORD}")):
            try:
                yield json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError, OSError):
                continue


def remove_stale_temps(folder: Path, max_age_s: float = STALE_TEMP_S) -> int:
    """Delete ``.name.*.tmp`` files that a killed atomic write left in ``folder``; return how many."""
    removed, now = 0, time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file(follow_symlinks=False):
            try:
                if now - entry.stat().st_mtime > max_age_s:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
    return removed
