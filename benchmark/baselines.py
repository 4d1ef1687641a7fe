"""Baseline tables (published numbers) as YAML data files shipped by plugins."""
from __future__ import annotations

from pathlib import Path

from .api import BaselineRow, BaselineTable
from .config import load_yaml
from .errors import ConfigError

ROW_KEYS = {"dataset", "student", "teacher", "loss", "metrics", "label", "setting", "uncertain", "note"}


def load_baseline_yaml(path: Path) -> BaselineTable:
    """Parse one table; every problem names the file and the row."""
    data = load_yaml(path)
    for key in ("name", "citation", "rows"):
        if key not in data:
            raise ConfigError(f"{path}: missing key '{key}'")
    if not isinstance(data["rows"], list):
        raise ConfigError(f"{path}: 'rows' must be a list")
    rows = []
    for i, row in enumerate(data["rows"]):
        where = f"{path}: rows[{i}]"
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: expected a mapping")
        unknown = set(row) - ROW_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(ROW_KEYS))})")
        for key in ("dataset", "student", "metrics"):
            if key not in row:
                raise ConfigError(f"{where}: missing key '{key}'")
        metrics = row["metrics"]
        if not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()
        ):
            raise ConfigError(f"{where}: metrics must map metric names to numbers")
        rows.append(BaselineRow(
            dataset=str(row["dataset"]), student=str(row["student"]),
            teacher=str(row.get("teacher", "none")), loss=str(row.get("loss", "none")),
            metrics={str(k): float(v) for k, v in metrics.items()},
            label=str(row.get("label", "")), setting=str(row.get("setting", "")),
            uncertain=bool(row.get("uncertain", False)), note=str(row.get("note", "")),
        ))
    return BaselineTable(
        name=str(data["name"]), citation=str(data["citation"]), rows=rows,
        version=str(data.get("version", "1")), description=str(data.get("description", "")),
    )
