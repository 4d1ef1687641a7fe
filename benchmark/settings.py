"""Declared valid ranges of numeric settings, checked in one place when a config is built.

A component's ``Config`` declares each numeric field's range with :func:`setting`::

    @dataclass
    class Config:
        epochs: int = setting(10, ge=1)
        dropout: float = setting(0.1, ge=0.0, lt=1.0)
        temperature: float = setting(2.0, gt=0.0)
        crops: list[int] = setting(default_factory=lambda: [1], ge=1)   # every element

:func:`benchmark.config.build_config` checks every given value against it and names the key
(``components.loss.kl.temperature: expected > 0, got -1.0``), so ``bench validate`` rejects it
before anything runs. Choices are ``Literal`` types; relations between fields (``warmup_epochs
<= epochs``) stay in the dataclass's ``__post_init__``, raising ``ValueError``. A subclass that
only changes a default (``hidden: int = 1024``) keeps the range its base declared.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

RANGE_KEY = "bench_range"


@dataclass(frozen=True)
class Range:
    """Bounds of a number: ``ge`` / ``gt`` below, ``le`` / ``lt`` above (None: unbounded)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def contains(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def text(self) -> str:
        """``>= 1``, ``> 0``, ``in [0, 1)``."""
        low = (self.ge, "[") if self.ge is not None else (self.gt, "(") if self.gt is not None else None
        high = (self.le, "]") if self.le is not None else (self.lt, ")") if self.lt is not None else None
        if low and high:
            return f"in {low[1]}{_num(low[0])}, {_num(high[0])}{high[1]}"
        if low:
            return f"{'>=' if low[1] == '[' else '>'} {_num(low[0])}"
        if high:
            return f"{'<=' if high[1] == ']' else '<'} {_num(high[0])}"
        return "any number"


def _num(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting(default: Any = dataclasses.MISSING, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with a declared valid range (for lists and dicts: of every element)."""
    metadata = {RANGE_KEY: Range(ge=ge, gt=gt, le=le, lt=lt)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def ranges(cls: type) -> dict[str, Range]:
    """The declared range of every field of dataclass ``cls``, its bases' included (a subclass
    redefining a field to change its default keeps the base's range)."""
    out: dict[str, Range] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        for f in dataclasses.fields(klass):
            rng = f.metadata.get(RANGE_KEY)
            if rng is not None:
                out[f.name] = rng
    return out


def range_problem(value: Any, rng: Range) -> str | None:
    """``expected >= 1, got 0`` when ``value`` (or one of its elements) is out of ``rng``."""
    items = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            continue  # the type check reports it
        if not rng.contains(item):
            what = f"elements {rng.text()}" if item is not value else rng.text()
            return f"expected {what}, got {item!r}"
    return None


def numeric_fields_without_range(cls: type) -> list[str]:
    """Fields of ``cls`` holding numbers (or lists of numbers) that declare no range: used by
    the tests that keep every built-in setting checked."""
    import typing

    declared = ranges(cls)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        args = {a for a in typing.get_args(tp)} if typing.get_origin(tp) is not None else set()
        numeric = tp in (int, float) or bool(args & {int, float})
        if numeric and typing.get_origin(tp) is not typing.Literal and f.name not in declared:
            out.append(f.name)
    return out
