"""Reproduction cards: a published row, the matrix cell that reproduces it, and the tolerance
within which a measured value counts as a reproduction (``bench reproduce``).

A card is checked three ways: offline, that it resolves to a valid cell whose configuration has
the published preprocessing and that its published numbers are the baseline table's
(:func:`problems`); after a run, measured against published (:func:`compare`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api import ReproductionCard
from .config import load_yaml
from .errors import ConfigError
from .matrix import Matrix, load_matrix
from .plugin_manager import Plugins

AXES = ("dataset", "teacher", "student", "loss")
REQUIRED = ("name", "matrix", "cell", "published", "source", "tolerance")
KEYS = set(REQUIRED) | {"description", "seeds", "baseline", "preprocessing", "data_kind", "version"}


def load_card_yaml(path: Path) -> ReproductionCard:
    """Parse one card; every problem names the file and the key."""
    data = load_yaml(path)
    unknown = set(data) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(KEYS))})")
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: missing key '{key}'")
    cell = data["cell"]
    if not isinstance(cell, dict) or set(cell) != set(AXES):
        raise ConfigError(f"{path}: cell: expected the keys {', '.join(AXES)}, got {cell!r}")
    for key in ("published", "tolerance"):
        values = data[key]
        if not isinstance(values, dict) or not values or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
            raise ConfigError(f"{path}: {key}: expected metric names mapped to numbers, got {values!r}")
    missing = sorted(set(data["published"]) - set(data["tolerance"]))
    if missing:
        raise ConfigError(f"{path}: tolerance: no tolerance for published metric '{missing[0]}'")
    for name, check in (data.get("preprocessing") or {}).items():
        if not isinstance(check, dict) or set(check) != {"at", "expect"}:
            raise ConfigError(f"{path}: preprocessing.{name}: expected {{at: a dotted path, expect: a value}}")
    return ReproductionCard(
        name=str(data["name"]), description=str(data.get("description", "")), matrix=str(data["matrix"]),
        cell={k: str(v) for k, v in cell.items()}, seeds=[int(s) for s in data.get("seeds", [0])],
        published={k: float(v) for k, v in data["published"].items()}, source=str(data["source"]),
        tolerance={k: float(v) for k, v in data["tolerance"].items()}, baseline=dict(data.get("baseline") or {}),
        preprocessing=dict(data.get("preprocessing") or {}), data_kind=str(data.get("data_kind", "real")),
        path=str(path), version=str(data.get("version", "1")),
    )


def card_matrix(card: ReproductionCard, plugins: Plugins, overrides: list[str] | None = None) -> Matrix:
    """The card's matrix, cut to the card's cells (one per seed)."""
    matrix = load_matrix(card.matrix, plugins, overrides)
    cells = [c for c in matrix.cells if all(c.axes[a] == card.cell[a] for a in AXES) and c.seed in card.seeds]
    found = sorted(c.seed for c in cells)
    if found != sorted(card.seeds):
        cell = "/".join(card.cell[a] for a in AXES)
        raise ConfigError(f"{card.path}: matrix '{card.matrix}' has no cell {cell} with seed(s) "
                          f"{sorted(set(card.seeds) - set(found))}")
    return dataclasses.replace(matrix, cells=cells)


def lookup(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def preprocessing_problems(card: ReproductionCard, resolved: dict[str, Any]) -> list[str]:
    """Where the cell's resolved configuration differs from the card's preprocessing."""
    out = []
    for name, check in card.preprocessing.items():
        try:
            value = lookup(resolved, check["at"])
        except KeyError:
            out.append(f"{card.name}: preprocessing.{name}: the cell has no setting '{check['at']}'")
            continue
        if value != check["expect"]:
            out.append(f"{card.name}: preprocessing.{name}: the cell has {check['at']} = {value!r}, "
                       f"the published run {check['expect']!r}")
    return out


def baseline_problems(card: ReproductionCard, plugins: Plugins) -> list[str]:
    """Where the card's published numbers differ from its baseline table's row."""
    if not card.baseline:
        return [] if card.data_kind != "real" else [f"{card.name}: no baseline row: a real card restates a table's row"]
    table = plugins.get("baseline", card.baseline["table"], f"{card.path}: baseline.table")
    rows = [r for r in table.rows if r.label == card.baseline.get("label") and r.dataset == card.baseline.get("dataset")]
    if len(rows) != 1:
        return [f"{card.name}: baseline table '{table.name}' has {len(rows)} rows labelled "
                f"{card.baseline.get('label')!r} on dataset {card.baseline.get('dataset')!r}"]
    return [f"{card.name}: published {metric} = {value} but {table.name} says {rows[0].metrics.get(metric)}"
            for metric, value in card.published.items() if rows[0].metrics.get(metric) != value]


@dataclass
class Comparison:
    metric: str
    published: float
    measured: float | None  # mean over the card's seeds that have a record
    tolerance: float
    seeds: int

    @property
    def within(self) -> bool:
        return self.measured is not None and abs(self.measured - self.published) <= self.tolerance


def compare(card: ReproductionCard, records: list[dict[str, Any]]) -> list[Comparison]:
    """Measured (mean over the finished records of the card's cells) against published."""
    done = [r for r in records if r.get("status") == "ok"]
    out = []
    for metric, value in card.published.items():
        measured = [float(r["metrics"][metric]) for r in done if r.get("metrics", {}).get(metric) is not None]
        mean = sum(measured) / len(measured) if measured else None
        out.append(Comparison(metric, value, mean, card.tolerance[metric], len(measured)))
    return out
