"""Test plugin for the fault tests (driven by environment variables):

FAULT_AUDIT=FILE        append one JSON line per completed cell (run id, status, pid, end time)
FAULT_READY_DIR=DIR     before its first cell, a process writes DIR/ready-<pid> and waits for DIR/go
FAULT_CELL_SLEEP=S      sleep S seconds at the start of every cell
FAULT_PAUSE_SEED=N      in the cell with seed N, write its run id to FAULT_PAUSE_FILE and sleep
"""
import json
import os
import time
from pathlib import Path

from benchmark import hookimpl

_STATE = {"waited": False}


@hookimpl
def bench_before_cell(cell, run_dir):
    ready = os.environ.get("FAULT_READY_DIR")
    if ready and not _STATE["waited"]:
        _STATE["waited"] = True
        (Path(ready) / f"ready-{os.getpid()}").touch()
        deadline = time.time() + 60
        while not (Path(ready) / "go").exists() and time.time() < deadline:
            time.sleep(0.02)
    time.sleep(float(os.environ.get("FAULT_CELL_SLEEP", "0") or 0))
    pause = os.environ.get("FAULT_PAUSE_SEED")
    if pause is not None and cell.seed == int(pause):
        Path(os.environ["FAULT_PAUSE_FILE"]).write_text(run_dir.name)
        time.sleep(120)


@hookimpl
def bench_after_cell(cell, record):
    path = os.environ.get("FAULT_AUDIT")
    if not path:
        return
    line = json.dumps({"run_id": record["run_id"], "status": record["status"], "pid": os.getpid(),
                       "ended_at": record.get("ended_at")}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
