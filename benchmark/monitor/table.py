"""The table of ``bench status``: one row per cell, running ones first, then failed, pending and
done, under the matrix's headline."""
from __future__ import annotations

from ..progress import clock_time, duration
from .state import DONE, FAILED, PENDING, RUNNING, CellState, MatrixState, headline

ORDER = (RUNNING, FAILED, PENDING, DONE)


def detail(cell: CellState, now: float) -> str:
    """What is known about one cell: where and since when it runs, its stage, its heartbeat; a
    failure's reason; a finished cell's time."""
    if cell.status == RUNNING:
        parts = [cell.where()]
        since = cell.since()
        if since is not None:
            parts.append(f"since {clock_time(since)} ({duration(now - since)})")
        stage = cell.stage
        parts.append(stage.describe(now) if stage is not None else "starting")
        if cell.holder is not None:
            parts.append(f"heartbeat {duration(now - cell.holder.heartbeat)} ago")
        return "; ".join(p for p in parts if p)
    if cell.status == DONE:
        return f"{float(((cell.record or {}).get('timings') or {}).get('total_s', 0)):.1f}s"
    return cell.reason


def render_table(state: MatrixState) -> str:
    from tabulate import tabulate

    rows = [[c.status, c.label, detail(c, state.now)]
            for status in ORDER for c in state.cells if c.status == status]
    return headline(state) + "\n" + tabulate(rows, headers=["status", "cell", "detail"], tablefmt="simple")
