"""Time conventions shared by datasets and feature sources.

Annotation frame numbers of both EPIC-Kitchens-55 (RULSTM split) and EGTEA Gaze+ are on a 30 fps
clock, whatever the native frame rate of the videos, and pre-extracted features are keyed by
the same numbers. A time ``t`` in seconds is frame ``floor(t * 30)``, clamped at frame 1.
"""
from __future__ import annotations

import math

import numpy as np

FPS = 30.0


def frame_of(t: float) -> int:
    """Frame number (30 fps clock) shown at time ``t`` seconds; never below 1."""
    return max(1, int(math.floor(t * FPS + 1e-9)))


def frames_of(times: np.ndarray) -> np.ndarray:
    """Vectorised :func:`frame_of`."""
    return np.maximum(1, np.floor(np.asarray(times, dtype=np.float64) * FPS + 1e-9)).astype(np.int64)


def seconds_of(frame: int) -> float:
    return frame / FPS
