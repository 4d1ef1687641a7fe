"""Time conventions shared by datasets and feature sources.

Annotation frame numbers of both EPIC-Kitchens-55 (RULSTM split) and EGTEA Gaze+ are on a 30 fps
clock, whatever the native frame rate of the videos, and pre-extracted features are keyed by
the same numbers. A time ``t`` in seconds is frame ``floor(t * 30)``. Steps before the first
frame are read as frame 1 (``clamp``), or, as RULSTM pads them (``dataset.py``,
``__sample_frames_past``), as the sequence's earliest frame at or after frame 1
(``first-valid``).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

FPS = 30.0

#: ``clamp``: frame 1; ``first-valid``: the sequence's earliest valid frame (RULSTM); ``none``:
#: no padding (frame numbers below 1 are returned as they are, for checks)
FramePadding = Literal["clamp", "first-valid", "none"]


def frame_of(t: float) -> int:
    """Frame number (30 fps clock) shown at time ``t`` seconds; never below 1."""
    return max(1, int(math.floor(t * FPS + 1e-9)))


def frames_of(times: np.ndarray, padding: FramePadding = "clamp") -> np.ndarray:
    """Frame numbers of a sequence of times; frames before frame 1 padded as ``padding`` says
    (``first-valid`` falls back to frame 1 when no frame of the sequence is valid)."""
    raw = np.floor(np.asarray(times, dtype=np.float64) * FPS + 1e-9).astype(np.int64)
    if padding == "none":
        return raw
    if padding == "first-valid" and raw.size and raw.max() >= 1:
        return np.where(raw < 1, raw[raw >= 1].min(), raw)
    return np.maximum(1, raw)


def seconds_of(frame: int) -> float:
    return frame / FPS
