"""Training curves of a cell: always a JSON-lines loss log, optionally Accelerate trackers.

    runs/<run_id>/losses.jsonl   one line per epoch: epoch, stage, step, loss, own_loss,
                                 distill_loss, lr, seconds (main process only)
    runs/<run_id>/tracking/      TensorBoard (or other Accelerate tracker) files, when the
                                 matrix sets ``train.trackers``

The loss log is appended line by line; a line cut short by a crash is skipped by readers and
dropped when the cell starts again (from scratch or from a checkpoint).
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable

from . import atomic

LOSSES = "losses.jsonl"
TRACKING = "tracking"
SPARKS = "▁▂▃▄▅▆▇█"


def accelerator_kwargs(train: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Extra ``Accelerator(...)`` arguments for the trackers a cell asks for."""
    trackers = list(train.get("trackers") or [])
    if not trackers:
        return {}
    return {"log_with": trackers, "project_dir": str(run_dir / TRACKING)}


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def flat_config(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``a/b/c`` keys with scalar values (what trackers accept)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_config(value, f"{name}/"))
        else:
            out[name] = _scalar(value)
    return out


def start_trackers(accelerator: Any, train: dict[str, Any], project: str, label: str,
                   config: dict[str, Any]) -> bool:
    """``init_trackers`` when the cell asks for trackers; True when they were started."""
    if not train.get("trackers"):
        return False
    hparams = {k: v for k, v in flat_config(config).items() if v is not None}
    accelerator.init_trackers(project, config=hparams, init_kwargs={"wandb": {"name": label}})
    return True


def end_trackers(accelerator: Any, started: bool) -> None:
    if started and accelerator is not None:
        accelerator.end_training()


class LossLog:
    """The per-cell loss log and the per-step / per-epoch tracker calls of the training loop."""

    def __init__(self, run_dir: Path, accelerator: Any, trackers: bool = False):
        self.path = Path(run_dir) / LOSSES
        self.accelerator = accelerator
        self.main = bool(getattr(accelerator, "is_main_process", True))
        self.trackers = trackers

    def begin(self, resume_epoch: int = 0) -> None:
        """Start the log: empty for a fresh start, the first ``resume_epoch`` epochs on resume."""
        if not self.main:
            return
        kept = [e for e in read_losses(self.path) if 0 < int(e.get("epoch", 0)) <= resume_epoch] if resume_epoch else []
        atomic.write_text(self.path, "".join(json.dumps(e, sort_keys=True) + "\n" for e in kept))

    def step(self, global_step: int, loss: float) -> None:
        if self.trackers:
            self.accelerator.log({"train/loss": loss}, step=global_step)

    def epoch(self, entry: dict[str, Any]) -> None:
        """Append one epoch line (and log it to the trackers)."""
        entry = {k: v for k, v in entry.items() if v is not None}
        if self.trackers:
            values = {f"epoch/{k}": v for k, v in entry.items() if k not in ("epoch", "step", "stage", "time")
                      and isinstance(v, (int, float))}
            self.accelerator.log(values, step=int(entry.get("step", 0)))
        if not self.main:
            return
        line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def read_losses(path: Path) -> list[dict[str, Any]]:
    """Epoch lines of a loss log, in epoch order (a cut-off or repeated epoch keeps its last line)."""
    by_epoch: dict[int, dict[str, Any]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entry = json.loads(line)
            by_epoch[int(entry["epoch"])] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return [by_epoch[k] for k in sorted(by_epoch)]


def sparkline(values: Iterable[float], width: int = 24) -> str:
    """A tiny text plot: one block character per value (values averaged into ``width`` bins)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return ""
    if len(vals) > width:
        bins = [vals[len(vals) * i // width: len(vals) * (i + 1) // width] for i in range(width)]
        vals = [sum(b) / len(b) for b in bins if b]
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-12:
        return SPARKS[0] * len(vals)
    return "".join(SPARKS[min(len(SPARKS) - 1, int((v - lo) / (hi - lo) * len(SPARKS)))] for v in vals)


def summarise(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Epochs, first / last / min loss, mean seconds per epoch and a sparkline of a loss log."""
    losses = [float(e["loss"]) for e in entries if isinstance(e.get("loss"), (int, float))]
    seconds = [float(e["seconds"]) for e in entries if isinstance(e.get("seconds"), (int, float))]
    if not losses:
        return {"epochs": len(entries)}
    best = min(range(len(losses)), key=losses.__getitem__)
    return {
        "epochs": len(entries),
        "first": losses[0],
        "last": losses[-1],
        "min": losses[best],
        "min_epoch": int(entries[best].get("epoch", best + 1)),
        "s_per_epoch": sum(seconds) / len(seconds) if seconds else None,
        "sparkline": sparkline(losses),
    }


def format_summary(summary: dict[str, Any]) -> str:
    if "first" not in summary:
        return "no loss logged yet"
    spe = summary.get("s_per_epoch")
    timing = f", {spe:.2f} s/epoch" if spe is not None else ""
    return (f"{summary['epochs']} epochs, loss {summary['first']:.4f} -> {summary['last']:.4f} "
            f"(min {summary['min']:.4f} at epoch {summary['min_epoch']}){timing}  {summary['sparkline']}")


def epoch_entry(epoch: int, stage: str, step: int, loss: float, own: float | None, distill: float | None,
                lr: float | None, seconds: float) -> dict[str, Any]:
    return {"epoch": epoch, "stage": stage, "step": step, "loss": loss, "own_loss": own,
            "distill_loss": distill, "lr": lr, "seconds": round(seconds, 4), "time": round(time.time(), 3)}
