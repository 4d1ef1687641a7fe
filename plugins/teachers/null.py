"""The no-teacher baseline: the student trains on its own loss only."""
from __future__ import annotations

from benchmark.api import Teacher


class NoTeacher(Teacher):
    name = "none"
    version = "1"
    description = "no teacher (the baseline row of every leaderboard)"
    is_null = True
    input_kind = "none"
