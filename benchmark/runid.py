"""Run identity: a hash of everything that changes a cell's result, and nothing else.

Timestamps, output folders and the git commit are recorded but not hashed, so re-running a
finished matrix after a documentation change reuses every cell.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

SCHEMA_VERSION = 1


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def digest(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


#: training keys that say how a cell is run, not what it computes: left out of the run id, so
#: turning on checkpoints or TensorBoard, or setting a budget, reuses finished cells
OPERATIONAL_TRAIN_KEYS = ("time_budget_s", "memory_budget_mb", "checkpoint_every_epochs", "trackers",
                          "device_memory_mb", "save_predictions")
#: training keys added after cells were recorded, hashed only when set to something else than
#: their default: the default reproduces the earlier behaviour, so those cells keep their ids
LATER_TRAIN_KEYS = {"compile": False, "compile_backend": "inductor"}


def _hashed_train(cell: Any) -> dict[str, Any]:
    train = {k: v for k, v in cell.train.items()
             if k not in OPERATIONAL_TRAIN_KEYS and not (k in LATER_TRAIN_KEYS and v == LATER_TRAIN_KEYS[k])}
    if getattr(cell, "baseline", False):
        # no teacher: how a teacher would be fitted cannot change the result, so the baseline
        # row is shared by matrices that differ only there (e.g. in-sample vs out-of-fold)
        for key in ("teacher_seed", "teacher_cross_fit"):
            if key in train:
                train[key] = 0
        train.pop("teacher_empty_history", None)
        train.pop("teacher_threads", None)
    return train


def identity(cell: Any, versions: dict[str, str], dataset_fingerprint: str, suite_major: str,
             feature_fingerprint: str = "", corpus_fingerprint: str = "") -> dict[str, Any]:
    """The hashed content of a cell (also written to its ``config.json``)."""
    return {
        "schema": SCHEMA_VERSION,
        "suite_major": suite_major,
        "axes": cell.axes,
        "components": cell.components,
        "configs": cell.configs,
        "train": _hashed_train(cell),
        "metrics": sorted(cell.metrics),
        "versions": versions,
        "dataset_fingerprint": dataset_fingerprint,
        "feature_fingerprint": feature_fingerprint,
        **({"members": cell.members} if getattr(cell, "members", None) else {}),
        **({"corpus_fingerprint": corpus_fingerprint} if corpus_fingerprint else {}),
    }


def run_id(ident: dict[str, Any]) -> str:
    return digest(ident)
