"""Declared ranges: every numeric setting of every built-in component and of ``train:`` has one,
every default lies in it, and ``build_config`` rejects what lies outside, naming the key."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from benchmark.plugin_manager import OBJECT_KINDS

from benchmark.config import build_config
from benchmark.errors import ConfigError
from benchmark.matrix import TrainConfig
from benchmark.settings import Range, numeric_fields_without_range, range_problem, ranges, setting


def builtin_configs(plugins) -> list[tuple[str, type]]:
    out = [("train", TrainConfig)]
    for kind, registry in plugins.registries.items():
        if kind in OBJECT_KINDS:
            continue
        for name in registry.names():
            cls = registry.get(name).obj
            out.append((f"{kind} {name}", cls.Config))
    return out


def test_every_numeric_builtin_setting_declares_a_range(plugins):
    undeclared = {where: numeric_fields_without_range(cfg) for where, cfg in builtin_configs(plugins)}
    assert {k: v for k, v in undeclared.items() if v} == {}
    assert len(builtin_configs(plugins)) > 30


def test_every_builtin_default_lies_in_its_range(plugins):
    for where, cfg in builtin_configs(plugins):
        defaults = cfg()
        for key, rng in ranges(cfg).items():
            assert range_problem(getattr(defaults, key), rng) is None, (where, key)
        build_config(cfg, dataclasses.asdict(defaults) if where != "train" else {}, where)


def test_range_text_and_checks():
    assert Range(ge=1).text() == ">= 1" and Range(gt=0.0).text() == "> 0"
    assert Range(ge=0.0, lt=1.0).text() == "in [0, 1)" and Range(gt=0.0, le=1.0).text() == "in (0, 1]"
    assert range_problem(0, Range(ge=1)) == "expected >= 1, got 0"
    assert range_problem(float("nan"), Range(ge=0.0)) == "expected >= 0, got nan"
    assert range_problem([1, 0], Range(ge=1)) == "expected elements >= 1, got 0"
    assert range_problem(True, Range(ge=5)) is None  # a type error, reported by the type check


@dataclass
class Base:
    size: int = setting(4, ge=1)
    share: float = setting(0.5, ge=0.0, le=1.0)
    sizes: list[int] = setting(default_factory=lambda: [2], ge=1)


@dataclass
class Child(Base):
    size: int = 8  # a new default keeps the base's range


@pytest.mark.parametrize("values, message", [
    ({"size": 0}, r"^where.size: expected >= 1, got 0$"),
    ({"share": 1.5}, r"^where.share: expected in \[0, 1\], got 1.5$"),
    ({"sizes": [3, -1]}, r"^where.sizes: expected elements >= 1, got -1$"),
])
def test_build_config_rejects_values_outside_the_range(values, message):
    for cls in (Base, Child):
        with pytest.raises(ConfigError, match=message):
            build_config(cls, values, "where")
    assert build_config(Child, {"share": 1}, "where") == Child(size=8, share=1.0, sizes=[2])


def test_train_relations_are_checked_with_the_ranges():
    with pytest.raises(ConfigError, match=r"train: warmup_epochs: expected at most epochs \(2\), got 3"):
        build_config(TrainConfig, {"epochs": 2, "warmup_epochs": 3}, "train")
    with pytest.raises(ConfigError, match=r"train: teacher_cross_fit: expected 0 \(off\) or a number of folds >= 2"):
        build_config(TrainConfig, {"teacher_cross_fit": 1}, "train")
    with pytest.raises(ConfigError, match=r"train.teacher_threads: expected >= 1, got 0"):
        build_config(TrainConfig, {"teacher_threads": 0}, "train")
