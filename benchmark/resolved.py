"""A cell's fully resolved configuration, as ``bench validate --print-config`` shows it: what a
reader holds against a paper's table line by line."""
from __future__ import annotations

from typing import Any

from .matrix import Cell
from .plugin_manager import Plugins

#: the component kinds of a cell, in the order a reader follows them
KINDS = ("dataset", "feature_source", "teacher", "student", "loss")


def resolved_config(cell: Cell, run_id: str, plugins: Plugins) -> dict[str, Any]:
    """Every component of ``cell`` (the registered name behind its alias, its version and every
    setting), the training settings after ``train_defaults``, the metrics and the run id."""
    components = {}
    for kind in KINDS:
        if kind not in cell.components:
            continue
        name = cell.components[kind]
        components[kind] = {
            "alias": getattr(cell, kind),
            "name": name,
            "version": str(plugins.get(kind, name).version),
            "config": cell.configs.get(kind, {}),
        }
    out: dict[str, Any] = {
        "cell": cell.label,
        "run_id": run_id,
        "matrix": cell.matrix,
        "seed": cell.seed,
        "components": components,
        "train": cell.train,
        "metrics": list(cell.metrics),
    }
    if cell.members:
        out["member_teachers"] = cell.members
    return out
