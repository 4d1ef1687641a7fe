"""On-disk cache of computed features (``FeatureSource.disk_cache``), shared by the cells of
a matrix that run in separate processes.

A simulated EPIC-55 feature set takes seconds to tens of seconds to generate; with one process
per cell (``--launcher queue``) every cell would pay that again. Entries are folders keyed by
the source, its version and config and the dataset fingerprint, holding one ``.npy`` per split
(read back with ``allow_pickle=False``) and the source's info as JSON, written atomically.
Deleting the cache is safe: entries are rebuilt on demand.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import atomic
from .runid import digest

INFO = "info.json"


@dataclass
class FeatureCache:
    root: Path

    def key(self, content: dict[str, Any]) -> str:
        return digest(content, 24)

    def load(self, key: str, splits: tuple[str, ...]) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        folder = self.root / key
        try:
            info = json.loads((folder / INFO).read_text(encoding="utf-8"))["info"]
            arrays = {split: np.load(folder / f"{split}.npy", allow_pickle=False) for split in splits}
        except (FileNotFoundError, json.JSONDecodeError, OSError, ValueError, KeyError, TypeError):
            return None
        return arrays, info

    def get_or_compute(
        self, content: dict[str, Any], splits: tuple[str, ...],
        compute: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]],
    ) -> tuple[dict[str, np.ndarray], dict[str, Any], bool]:
        """(arrays, info, was_cached)."""
        key = self.key(content)
        hit = self.load(key, splits)
        if hit is not None:
            return hit[0], hit[1], True
        arrays, info = compute()
        final = self.root / key
        if not final.exists():  # else another process wrote the same entry meanwhile
            with atomic.atomic_dir(final) as tmp:
                for split in splits:
                    np.save(tmp / f"{split}.npy", np.ascontiguousarray(arrays[split]), allow_pickle=False)
                (tmp / INFO).write_text(json.dumps({"content": content, "info": info}, default=str), encoding="utf-8")
        return arrays, info, False
