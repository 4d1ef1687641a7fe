"""Per-cell lock files, so that runners sharing one runs folder never run a cell twice at once.

A lock is ``<runs>/_locks/<run_id>.lock``, a small JSON file (pid, host, start time, a random
token) created exclusively: a complete temporary file is hard-linked to the lock name, which
fails when the lock exists (like ``O_CREAT|O_EXCL``, but a reader never sees a half-written
lock; plain ``O_CREAT|O_EXCL`` is used where hard links are not supported). While the cell runs,
a thread touches the file (its mtime is the heartbeat).

A launcher that holds the lock itself and runs the cell in a child process passes the lock's
token in ``BENCH_CELL_LOCK_TOKEN``; the child then runs under that lock instead of taking one.

A lock is stale, and is broken and taken over, when its process is gone (same host: no such
pid, or a zombie), or when its heartbeat is older than the timeout (any host; the timeout is
``BENCH_LOCK_TIMEOUT_S``, default 600 s). Breaking renames the lock to a private name first and
checks it is still the stale one, so two runners breaking the same lock cannot both win.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 600.0
#: a lock file that cannot be parsed (only possible with the O_EXCL fallback) is stale after this
UNREADABLE_GRACE_S = 30.0
#: leftover temporary files of killed runners are removed once they are this old
TEMP_MAX_AGE_S = 60.0

_HELD: set[str] = set()  # tokens of the locks this process holds
#: environment variable naming the token of a lock a parent process holds for this one
INHERITED_ENV = "BENCH_CELL_LOCK_TOKEN"


def default_timeout() -> float:
    """The heartbeat timeout: ``BENCH_LOCK_TIMEOUT_S`` or 600 s."""
    value = os.environ.get("BENCH_LOCK_TIMEOUT_S", "")
    try:
        return float(value) if value.strip() else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


@dataclass
class LockInfo:
    """What a lock file says about its holder; ``heartbeat`` is the file's mtime."""

    pid: int
    host: str
    started_at: str
    token: str
    heartbeat: float

    def describe(self) -> str:
        age = max(0.0, time.time() - self.heartbeat)
        return f"pid {self.pid} on {self.host}, since {self.started_at}, heartbeat {age:.0f} s ago"


def read_lock(path: Path) -> LockInfo | None:
    """The lock's holder, or None when the file is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
        data = json.loads(text)
        return LockInfo(int(data["pid"]), str(data["host"]), str(data.get("started_at", "")),
                        str(data["token"]), mtime)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return True


def stale_reason(info: LockInfo | None, path: Path, timeout_s: float, now: float | None = None) -> str | None:
    """Why the lock at ``path`` (holder ``info``) may be broken, or None when it is live."""
    now = time.time() if now is None else now
    if info is None:
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            return "released"
        return f"unreadable lock file, {age:.0f} s old" if age > min(UNREADABLE_GRACE_S, timeout_s) else None
    if info.host == socket.gethostname():
        if info.pid == os.getpid() and info.token not in _HELD:
            return f"left by an earlier process with this pid ({info.pid})"
        if not pid_alive(info.pid):
            return f"its process (pid {info.pid} on {info.host}) is gone"
    if timeout_s > 0 and now - info.heartbeat > timeout_s:
        return f"no heartbeat for {now - info.heartbeat:.0f} s (timeout {timeout_s:.0f} s)"
    return None


class CellLock:
    """An exclusive lock on one cell: ``acquire()``, run, ``release()``.

    After a failed ``acquire()``, ``owner`` describes the live holder; after a successful one,
    ``broken`` says which stale lock was taken over, if any.
    """

    def __init__(self, path: Path, timeout_s: float | None = None, heartbeat_s: float | None = None):
        self.path = Path(path)
        self.timeout_s = default_timeout() if timeout_s is None else float(timeout_s)
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else max(0.5, min(60.0, self.timeout_s / 4))
        self.token = uuid.uuid4().hex
        self.owner: LockInfo | None = None
        self.broken: str | None = None
        self.held = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> CellLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    # -- acquire -------------------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take the lock; False (and ``owner`` set) when a live process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(8):
            if self._create():
                self.held = True
                _HELD.add(self.token)
                self._start_heartbeat()
                self._sweep()
                return True
            info = read_lock(self.path)
            reason = stale_reason(info, self.path, self.timeout_s)
            if reason is None:
                self.owner = info
                return False
            if reason != "released" and self._break(info):
                self.broken = f"{reason} ({info.describe() if info else 'no holder information'})"
        self.owner = read_lock(self.path)
        return False

    def _content(self) -> bytes:
        return json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "token": self.token,
        }).encode("utf-8")

    def _create(self) -> bool:
        tmp = self.path.with_name(f".{self.path.name}.{self.token}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, self._content())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system: plain exclusive create
            return self._create_excl()
        finally:
            tmp.unlink(missing_ok=True)

    def _create_excl(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, self._content())
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def _break(self, stale: LockInfo | None) -> bool:
        """Remove the stale lock; True when the caller should try to create it again."""
        grave = self.path.with_name(f".{self.path.name}.{self.token}.broken")
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return False  # someone else broke or released it meanwhile
        moved = read_lock(grave)
        if moved is not None and (stale is None or moved.token != stale.token):
            # another runner took the lock after the stale one was broken: give it back
            try:
                os.link(grave, self.path)
            except FileExistsError:
                pass
            except OSError:
                os.rename(grave, self.path)
            grave.unlink(missing_ok=True)
            return False
        grave.unlink(missing_ok=True)
        return True

    def _sweep(self) -> None:
        """Remove temporary files that killed runners left next to the locks."""
        now = time.time()
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith((".tmp", ".broken")):
                try:
                    if now - entry.stat().st_mtime > TEMP_MAX_AGE_S:
                        os.unlink(entry.path)
                except OSError:
                    pass

    # -- heartbeat and release -----------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lock-heartbeat-{self.path.stem}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still this one."""
        if not self.held:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        info = read_lock(self.path)
        if info is not None and info.token == self.token:
            self.path.unlink(missing_ok=True)
        self.held = False
        _HELD.discard(self.token)


def inherited(path: Path) -> bool:
    """Whether a parent process holds the lock at ``path`` for this process (``INHERITED_ENV``)."""
    token = os.environ.get(INHERITED_ENV, "")
    info = read_lock(path) if token else None
    return info is not None and info.token == token
