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


def render_markdown(table: BaselineTable, command: str) -> str:
    """A published table as Markdown: citation, description, one row per result, † = uncertain."""
    from tabulate import tabulate

    metrics = list(dict.fromkeys(m for row in table.rows for m in row.metrics))
    rows = []
    for r in table.rows:
        mark = " †" if r.uncertain else ""
        rows.append([r.dataset, r.student, r.teacher, r.loss, r.label, r.setting]
                    + [f"{r.metrics[m]:.2f}{mark}" if m in r.metrics else "" for m in metrics])
    lines = [f"# {table.name}", "", f"Produced by `{command}` from the table shipped with the suite.", "",
             f"**Source.** {table.citation}", ""]
    if table.description:
        lines += [table.description, ""]
    lines.append(tabulate(rows, headers=["dataset", "student", "teacher", "loss", "label", "setting"] + metrics,
                          tablefmt="github", disable_numparse=True))
    notes = [f"- {r.label}: {r.note}" for r in table.rows if r.note]
    if notes:
        lines += ["", "Notes († = the source of the number could not be checked exactly):", ""] + notes
    return "\n".join(lines) + "\n"
