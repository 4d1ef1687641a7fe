"""Plain lines for a non-terminal (CI, redirected output): a line when a running cell enters a
new stage and at most one every 30 s while it stays in one, and the matrix's headline whenever a
cell finishes. No control characters."""
from __future__ import annotations

import os
import sys
from typing import Callable

from ..progress import PLAIN_EVERY_S, clock_time
from .state import DONE, FAILED, RUNNING, MatrixState, headline


class PlainView:
    """Cells that this process runs print their own stage lines (through :meth:`echo`, at every
    stage change); the view prints those of cells other processes run, as it polls them."""

    def __init__(self, write: Callable[[str], None] | None = None, every_s: float = PLAIN_EVERY_S):
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.every_s = every_s
        self._shown: dict[str, tuple[str, float]] = {}  # run id -> (stage, when its line was printed)
        self._finished = -1

    def _print(self, line: str) -> None:
        self.write(line)

    def echo(self, line: str) -> None:
        self._print(line)

    def update(self, state: MatrixState) -> None:
        for cell in state.of(RUNNING):
            stage = cell.stage
            if stage is None or (cell.snapshot is not None and cell.snapshot.pid == os.getpid()):
                continue
            last = self._shown.get(cell.run_id)
            if last is None or last[0] != stage.name or state.now - last[1] >= self.every_s:
                self._shown[cell.run_id] = (stage.name, state.now)
                self._print(f"{clock_time(state.now)} {cell.label}: {stage.describe(state.now)}")
        finished = len(state.of(DONE)) + len(state.of(FAILED))
        if finished != self._finished and self._finished >= 0:
            self._print(headline(state))
        self._finished = finished

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
