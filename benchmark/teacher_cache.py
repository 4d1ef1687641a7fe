"""Content-addressed cache of teacher soft labels.

A teacher is fitted and its outputs for every split computed once per (teacher, teacher config,
teacher seed, dataset fingerprint, feature-independent settings); every student x loss x seed
cell reuses them. Entries are folders written atomically (safetensors arrays + JSON metadata);
deleting any entry or the whole cache is safe: it is rebuilt on demand.

Cells running at the same time (``--launcher queue``, several runners on one folder) that need
the same teacher do not both fit it: the first takes ``<cache>/_locks/<key>.lock`` (a
:class:`~benchmark.locks.CellLock`, so a crashed holder's lock goes stale and is taken over) and
the others wait for its entry.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from . import atomic
from .api import TeacherOutput
from .locks import CellLock
from .runid import digest

ARRAYS = "outputs.safetensors"
META = "meta.json"


@dataclass
class TeacherCache:
    root: Path

    def key(self, content: dict[str, Any]) -> str:
        return digest(content, 24)

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str) -> dict[str, TeacherOutput] | None:
        folder = self.path(key)
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            arrays = load_file(str(folder / ARRAYS))
        except (OSError, ValueError, SafetensorError):  # missing, truncated or damaged: refit
            return None
        out: dict[str, TeacherOutput] = {}
        for split in meta["splits"]:
            out[split] = TeacherOutput(
                logits=arrays[f"{split}.logits"],
                features=arrays.get(f"{split}.features"),
            )
        return out

    def lock_path(self, key: str) -> Path:
        return self.root / "_locks" / f"{key}.lock"

    def meta(self, key: str) -> dict[str, Any]:
        """An entry's metadata ({} for a missing or unreadable entry)."""
        try:
            return json.loads((self.path(key) / META).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, OSError):
            return {}

    def uids(self, key: str) -> dict[str, list[str]] | None:
        """Per split, the sample uids an entry's rows belong to (None for entries written
        before uids were stored, or a missing entry)."""
        return self.meta(key).get("uids")

    def provenance(self, key: str) -> dict[str, Any] | None:
        """What the fitted teacher said about itself when the entry was written (None before
        provenance was stored)."""
        return self.meta(key).get("provenance")

    def coverage_problem(self, key: str, expected: dict[str, list[str]]) -> str | None:
        """What is wrong with entry ``key``'s rows against the uids each split has now: a row
        for another sample would silently distil the wrong soft label."""
        stored = self.uids(key)
        if stored is None:
            return None
        for split, want in expected.items():
            have = stored.get(split)
            if have is None:
                return f"teacher cache {self.path(key)}: no soft labels for split '{split}'"
            if have != list(want):
                absent = [u for u in want if u not in set(have)]
                what = (f"{len(absent)} of its {len(want)} samples have none, e.g. {', '.join(absent[:3])}"
                        if absent else "its rows are in another order")
                return f"teacher cache {self.path(key)}: split '{split}': {what}"
        return None

    def get_or_compute(
        self, content: dict[str, Any], compute: Callable[[], dict[str, TeacherOutput]],
        on_wait: Callable[[str], None] | None = None, poll_s: float = 1.0,
        uids: dict[str, list[str]] | None = None, describe: Callable[[], dict[str, Any]] | None = None,
    ) -> tuple[dict[str, TeacherOutput], bool, str]:
        """(outputs, was_cached, key). While another process computes the same entry, wait for
        it (``on_wait`` is told once who holds it) rather than compute it twice. ``uids`` (per
        split, the samples of the rows) and ``describe()`` (the fitted teacher's provenance,
        called after ``compute``) are stored with a new entry."""
        key = self.key(content)
        cached = self.load(key)
        if cached is not None:
            return cached, True, key
        lock = CellLock(self.lock_path(key))
        told = False
        while not lock.acquire():
            if not told and on_wait is not None:
                on_wait(lock.owner.describe() if lock.owner else "holder unknown")
                told = True
            time.sleep(poll_s)
            cached = self.load(key)
            if cached is not None:
                return cached, True, key
        try:
            cached = self.load(key)  # written by the holder this one waited for
            if cached is not None:
                return cached, True, key
            return self._compute_and_store(key, content, compute, uids, describe), False, key
        finally:
            lock.release()

    def _compute_and_store(self, key: str, content: dict[str, Any], compute: Callable[[], dict[str, TeacherOutput]],
                           uids: dict[str, list[str]] | None = None,
                           describe: Callable[[], dict[str, Any]] | None = None) -> dict[str, TeacherOutput]:
        outputs = compute()
        extra = {"uids": uids} if uids else {}
        if describe is not None:
            extra["provenance"] = describe()
        arrays: dict[str, np.ndarray] = {}
        for split, out in outputs.items():
            arrays[f"{split}.logits"] = np.ascontiguousarray(out.logits, dtype=np.float32)
            if out.features is not None:
                arrays[f"{split}.features"] = np.ascontiguousarray(out.features, dtype=np.float32)
        final = self.path(key)
        if final.exists() and self.load(key) is None:
            shutil.rmtree(final, ignore_errors=True)  # a damaged entry (e.g. a file deleted by hand)
        if not final.exists():
            with atomic.atomic_dir(final) as tmp:
                save_file(arrays, str(tmp / ARRAYS))
                (tmp / META).write_text(
                    json.dumps({"content": content, "splits": sorted(outputs), **extra}, indent=2, default=str),
                    encoding="utf-8",
                )
        return outputs
