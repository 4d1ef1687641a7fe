"""Findings of the checks that run before training (``bench data doctor``, ``bench run``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Level = Literal["ok", "warning", "error"]
LEVELS: tuple[Level, ...] = ("ok", "warning", "error")


@dataclass
class Finding:
    """One line of a check: its level and what it found."""

    level: Level
    message: str


@dataclass
class Check:
    """One checked thing (``annotations``, ``features``...) of one subject (``egtea``,
    ``egtea/lmdb train rgb``), with what was found."""

    check: str
    subject: str
    level: Level
    message: str
    #: cheap checks run before every ``bench run``; the others only in ``bench data doctor``
    cheap: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.level:<7}  {self.check:<13} {self.subject}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst(checks: list[Check]) -> Level:
    return max((c.level for c in checks), key=LEVELS.index, default="ok")


def exit_code(checks: list[Check]) -> int:
    """0 clean, 1 warnings, 2 errors."""
    return LEVELS.index(worst(checks))


@dataclass
class FeatureReport:
    """What a feature source found about one split without loading it all
    (:meth:`benchmark.api.FeatureSource.inspect`)."""

    findings: list[Finding] = field(default_factory=list)
    #: what ``load`` would report (``layout``, ``frame_shape``): checked against the students
    info: dict[str, Any] = field(default_factory=dict)
