"""A thread that reads the matrix's state every second and hands it to a view (live or plain),
while the runner's own thread runs cells."""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable

from .state import MatrixState

POLL_S = 1.0


def choose_view(live: bool, stream: Any = None) -> Any:
    """The live view when ``live`` and the stream (stderr) is a terminal, else plain lines."""
    stream = stream or sys.stderr
    if live and hasattr(stream, "isatty") and stream.isatty():
        from .live import LiveView

        return LiveView()
    from .plain import PlainView

    return PlainView(lambda line: print(line, file=stream, flush=True))


class Watcher:
    def __init__(self, read: Callable[[], MatrixState], view: Any, poll_s: float = POLL_S):
        self.read, self.view, self.poll_s = read, view, poll_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Watcher":
        self.view.start()
        self._thread = threading.Thread(target=self._loop, name="bench-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if exc[0] is None:
            self.refresh()
        self.view.stop()

    def refresh(self) -> None:
        """Read the state and show it now (also from the runner's thread, e.g. after a cell)."""
        with self._lock:
            try:
                state = self.read()
            except Exception:  # a half-written folder of another runner must not stop the matrix
                return
            self.view.update(state)

    def echo(self, line: str) -> None:
        with self._lock:
            self.view.echo(line)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.refresh()
