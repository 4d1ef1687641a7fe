"""The live view of ``bench run`` on a terminal (rich): the matrix's counts and ETA, and a row per
running cell with its stage, steps, elapsed time and ETA. Lines the runner prints meanwhile (each
finished cell) appear above it."""
from __future__ import annotations

from typing import Any

from ..progress import duration
from .state import RUNNING, MatrixState, headline


def render(state: MatrixState) -> Any:
    """The view of ``state`` as a rich renderable."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for column in ("cell", "stage", "", "steps", "elapsed", "ETA"):
        table.add_column(column, no_wrap=True)
    for cell in state.of(RUNNING):
        stage = cell.stage
        if stage is None:
            table.add_row(cell.label, "starting", "", "", "", "")
            continue
        bar: Any = ProgressBar(total=stage.total, completed=stage.done, width=20) if stage.total else ""
        steps = f"{stage.done}/{stage.total}" if stage.total else (str(stage.done) if stage.done else "")
        eta = state.cell_eta_s(cell)
        table.add_row(cell.label, ", ".join(p for p in (stage.name, stage.detail) if p), bar, steps,
                      duration(stage.elapsed_s(state.now)), "?" if eta is None else duration(eta))
    running = state.of(RUNNING)
    return Group(Text(headline(state), style="bold"), table) if running else Text(headline(state), style="bold")


class LiveView:
    """Refreshes :func:`render` of the latest state on ``console`` (a rich Console)."""

    def __init__(self, console: Any = None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.live: Any = None

    def start(self) -> None:
        from rich.live import Live

        self.live = Live(console=self.console, auto_refresh=False, transient=False, redirect_stdout=True,
                         redirect_stderr=True)
        self.live.start()

    def update(self, state: MatrixState) -> None:
        if self.live is not None:
            self.live.update(render(state), refresh=True)

    def echo(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
