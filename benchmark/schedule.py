"""Learning-rate schedules of the shared training loop (``train.schedule``,
``train.warmup_epochs``), as a factor of the base rate at each optimiser step.

``cosine`` follows AVT's composition (``common/scheduler.py``: ``Warmup`` around ``CosineLR``,
stepped once per iteration): with W = warmup_epochs x steps per epoch and T = the remaining
steps, step s (0-based) uses s / W during the warm-up, then torch's chained cosine from the rate
the warm-up ended at, (W - 1) / W, down to 0 at step W - 1 + T; a run without warm-up starts at
the full rate. ``constant`` keeps the base rate after the same linear warm-up.
"""
from __future__ import annotations

import math
from typing import Literal

Schedule = Literal["constant", "cosine"]


def lr_factor(step: int, steps_per_epoch: int, epochs: int, warmup_epochs: int = 0,
              schedule: Schedule = "constant") -> float:
    """Factor of the base learning rate for optimiser step ``step`` (0-based) of a run of
    ``epochs`` epochs of ``steps_per_epoch`` steps."""
    warmup = max(warmup_epochs * steps_per_epoch, 1)
    ramp = warmup > 1  # a one-step warm-up starts at the full rate, as AVT's
    if ramp and step < warmup:
        return step / warmup
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"train.schedule: expected 'constant' or 'cosine', got {schedule!r}")
    total = (epochs - warmup_epochs) * steps_per_epoch  # the cosine's T_max
    start = (warmup - 1) / warmup if ramp else 1.0
    done = step - warmup + 1 if ramp else step  # cosine steps taken before this one
    if done >= total:
        return 0.0
    return start * (1.0 + math.cos(math.pi * done / total)) / 2.0
