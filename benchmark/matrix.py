"""From a matrix file to a list of fully resolved cells.

A matrix is the product of the axes dataset x teacher x student x loss x seed, minus ``exclude``,
plus ``include``. The baseline (teacher ``none``, loss ``none``) is an ordinary axis value.
Combinations that cannot work (a distillation loss without a teacher, a feature loss with a teacher
that has no feature) are dropped by validation and listed, and a loss that ignores the teacher
collapses the teacher to ``none`` so the baseline runs once per dataset, student and seed.
"""
from __future__ import annotations

import difflib
import itertools
from pathlib import Path
from typing import Any

from .config import (
    apply_overrides,
    build_config,
    config_to_dict,
    find_matrix,
    load_matrix_file,
)
from .errors import ConfigError
from .matrix_types import AXES, Cell, LeaderboardConfig, Matrix, TrainConfig
from .plugin_manager import Plugins

TOP_LEVEL_KEYS = {
    "name", "description", "matrix", "exclude", "include", "components", "feature_source",
    "train", "metrics", "leaderboard", "launcher",
}
CONFIGURABLE_KINDS = ("dataset", "teacher", "student", "loss", "feature_source")

__all__ = ["AXES", "Cell", "LeaderboardConfig", "Matrix", "TrainConfig", "build_matrix", "load_matrix", "resolve_cell",
           "select_cells"]


def _as_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: empty list")
        return value
    return [value]


def _matches(axes: dict[str, Any], pattern: dict[str, Any]) -> bool:
    for key, want in pattern.items():
        wants = want if isinstance(want, list) else [want]
        if axes.get(key) not in wants:
            return False
    return True


def _component_block(raw: dict[str, Any], kind: str, alias: str, where: str) -> tuple[str, dict, dict]:
    """(registered name, config values, by_dataset overrides) for an axis value."""
    comps = raw.get("components") or {}
    if not isinstance(comps, dict):
        raise ConfigError(f"{where}: 'components' must be a mapping of kind -> name -> config")
    kind_block = comps.get(kind) or {}
    if not isinstance(kind_block, dict):
        raise ConfigError(f"{where}: components.{kind} must be a mapping of name -> config")
    block = kind_block.get(alias) or {}
    if not isinstance(block, dict):
        raise ConfigError(f"{where}: components.{kind}.{alias} must be a mapping")
    block = dict(block)
    name = block.pop("use", alias)
    by_dataset = block.pop("by_dataset", {}) or {}
    if not isinstance(by_dataset, dict):
        raise ConfigError(f"{where}: components.{kind}.{alias}.by_dataset must be a mapping")
    return str(name), block, by_dataset


def _student_train(raw: dict[str, Any], alias: str, student_cls: Any, train: TrainConfig,
                   dataset_alias: str, where: str) -> dict[str, Any]:
    """The training settings of one student's cells: the matrix's ``train:``, then the
    student's published ``train_defaults`` for keys the matrix does not set, then
    ``components.student.<alias>.train`` (and its ``by_dataset`` ``train``)."""
    out = config_to_dict(train)
    explicit = set((raw.get("train") or {}).keys())
    defaults = {k: v for k, v in dict(getattr(student_cls, "train_defaults", {}) or {}).items() if k not in explicit}
    block = ((raw.get("components") or {}).get("student") or {}).get(alias) or {}
    override = dict(block.get("train") or {}) if isinstance(block, dict) else {}
    by_dataset = (block.get("by_dataset") or {}).get(dataset_alias) or {} if isinstance(block, dict) else {}
    override.update(by_dataset.get("train") or {})
    if not defaults and not override:
        return out
    merged = {**out, **defaults, **override}
    return config_to_dict(build_config(TrainConfig, merged, f"{where}: components.student.{alias}.train"))


def _entries(raw: dict[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key}: expected a list of mappings over the axes {', '.join(AXES)}")
    return value


def _check_pattern(pattern: Any, where: str, known: Any, expected: Any, values: list[str]) -> None:
    """An ``exclude`` / ``include`` entry names only axes, and only values ``known(axis, v)``
    accepts: a misspelt entry would otherwise exclude (or add) nothing, silently."""
    if not isinstance(pattern, dict) or not pattern:
        raise ConfigError(f"{where}: expected a mapping over the axes {', '.join(AXES)}, got {pattern!r}")
    for axis, want in pattern.items():
        if axis not in AXES:
            close = difflib.get_close_matches(str(axis), AXES, n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{where}: unknown axis '{axis}'.{hint} Axes: {', '.join(AXES)}")
        for value in (want if isinstance(want, list) else [want]):
            if axis == "seed":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ConfigError(f"{where}.seed: expected integers, got {value!r}")
                if values and not known(axis, value):
                    raise ConfigError(f"{where}.seed: {value!r} is {expected(axis)}")
                continue
            if not known(axis, value):
                close = difflib.get_close_matches(str(value), values, n=1, cutoff=0.6)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise ConfigError(f"{where}.{axis}: '{value}' is {expected(axis)}.{hint}")


def _known_value(raw: dict[str, Any], plugins: Plugins, axis: str, value: Any) -> bool:
    """A value an included cell may name: a registered component or a configured alias."""
    if axis == "seed":
        return True
    aliases = ((raw.get("components") or {}).get(axis) or {}) if isinstance(raw.get("components"), dict) else {}
    return str(value) in aliases or str(value) in plugins.registries[axis].names()


def _check_primary(board: "LeaderboardConfig", metrics: list[str], where: str) -> None:
    """The leaderboard ranks by metrics the matrix computes."""
    if board.primary not in metrics:
        raise ConfigError(f"{where}: leaderboard.primary '{board.primary}' is not computed: add it to metrics: "
                          f"[{', '.join(metrics)}]")
    for dataset, metric in board.primary_by_dataset.items():
        if str(metric) not in metrics:
            raise ConfigError(f"{where}: leaderboard.primary_by_dataset.{dataset} '{metric}' is not computed: add it "
                              f"to metrics: [{', '.join(metrics)}]")


def _check_components(raw: dict[str, Any], plugins: Plugins, where: str) -> None:
    """Every configured kind and name must exist, so a typo is an error, not a silent no-op."""
    comps = raw.get("components") or {}
    if not isinstance(comps, dict):
        raise ConfigError(f"{where}: 'components' must be a mapping of kind -> name -> config")
    for kind, block in comps.items():
        if kind not in CONFIGURABLE_KINDS:
            close = difflib.get_close_matches(str(kind), CONFIGURABLE_KINDS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{where}: components.{kind}: unknown kind.{hint} Kinds: {', '.join(CONFIGURABLE_KINDS)}"
            )
        for alias, values in (block or {}).items():
            name = values.get("use", alias) if isinstance(values, dict) else alias
            plugins.registries[kind].get(str(name), f"{where}: components.{kind}.{alias}")


def load_matrix(
    name_or_path: str, plugins: Plugins, overrides: list[str] | None = None
) -> Matrix:
    path = find_matrix(name_or_path)
    raw = apply_overrides(load_matrix_file(path), overrides or [])
    return build_matrix(raw, plugins, path)


def build_matrix(raw: dict[str, Any], plugins: Plugins, path: Path | None = None) -> Matrix:
    where = str(path) if path else "matrix"
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"{where}: unknown top-level key '{key}'. Known keys: {', '.join(sorted(TOP_LEVEL_KEYS))}"
        )
    name = str(raw.get("name") or (path.stem if path else "matrix"))
    axes = _axes(raw, where)
    train = build_config(TrainConfig, raw.get("train"), f"{where}: train")
    board, metrics = _leaderboard_and_metrics(raw, plugins, where)
    _check_components(raw, plugins, where)
    cells, dropped = _cells(_combinations(raw, plugins, axes, where), raw, plugins, train, metrics, name, where)
    return Matrix(name, path, raw, cells, dropped, board, train, _launcher(raw, plugins, where))


def _axes(raw: dict[str, Any], where: str) -> dict[str, list[Any]]:
    """The values of every axis (``teacher`` and ``loss`` default to none, ``seed`` to 0)."""
    axes_raw = raw.get("matrix")
    if not isinstance(axes_raw, dict):
        raise ConfigError(f"{where}: missing 'matrix:' mapping with axes {', '.join(AXES)}")
    for key in axes_raw:
        if key not in AXES:
            raise ConfigError(f"{where}: matrix.{key}: unknown axis; axes are {', '.join(AXES)}")
    for required in ("dataset", "student"):
        if required not in axes_raw:
            raise ConfigError(f"{where}: matrix.{required} is required")
    axes = {
        a: _as_list(axes_raw.get(a, {"teacher": "none", "loss": "none", "seed": 0}.get(a)), f"{where}: matrix.{a}")
        for a in AXES
    }
    for s in axes["seed"]:
        if not isinstance(s, int) or isinstance(s, bool):
            raise ConfigError(f"{where}: matrix.seed: expected integers, got {s!r}")
    return axes


def _leaderboard_and_metrics(raw: dict[str, Any], plugins: Plugins, where: str) -> tuple[LeaderboardConfig, list[str]]:
    board = build_config(LeaderboardConfig, raw.get("leaderboard"), f"{where}: leaderboard")
    metrics = raw.get("metrics") or ["top1_action", "top5_action", "mean_class_top1_action"]
    if not isinstance(metrics, list):
        raise ConfigError(f"{where}: metrics must be a list of metric names")
    for m in metrics:
        plugins.registries["metric"].get(str(m), f"{where}: metrics")
    for b in board.baselines:
        plugins.registries["baseline"].get(b, f"{where}: leaderboard.baselines")
    for d, m in board.primary_by_dataset.items():
        plugins.registries["metric"].get(str(m), f"{where}: leaderboard.primary_by_dataset.{d}")
    if "primary" not in (raw.get("leaderboard") or {}) and board.primary not in metrics and metrics:
        board.primary = str(metrics[0])  # the default applies only where it is computed
    _check_primary(board, [str(m) for m in metrics], where)
    return board, [str(m) for m in metrics]


def _combinations(raw: dict[str, Any], plugins: Plugins, axes: dict[str, list[Any]], where: str) -> list[dict[str, Any]]:
    """The product of the axes less the ``exclude`` patterns, plus the ``include`` entries."""
    combos = [dict(zip(AXES, values)) for values in itertools.product(*(axes[a] for a in AXES))]
    for i, pattern in enumerate(_entries(raw, "exclude", where)):
        _check_pattern(pattern, f"{where}: exclude[{i}]", lambda axis, value: value in axes[axis],
                       lambda axis: f"not a value of matrix.{axis} ({', '.join(map(str, axes[axis]))})",
                       [str(v) for a in AXES for v in axes[a]])
        combos = [c for c in combos if not _matches(c, pattern)]
    for i, extra in enumerate(_entries(raw, "include", where)):
        _check_pattern(extra, f"{where}: include[{i}]", lambda axis, value: _known_value(raw, plugins, axis, value),
                       lambda axis: f"not a registered {axis} nor an alias under components.{axis}", [])
        if any(isinstance(v, list) for v in extra.values()):
            raise ConfigError(f"{where}: include[{i}]: expected one value per axis (an included cell), got a list")
        if "dataset" not in extra or "student" not in extra:
            raise ConfigError(f"{where}: include[{i}]: 'dataset' and 'student' are required")
        seeds = [extra["seed"]] if "seed" in extra else axes["seed"]
        for seed in seeds:
            combos.append({"teacher": "none", "loss": "none", **extra, "seed": seed})
    return combos


def _cells(combos: list[dict[str, Any]], raw: dict[str, Any], plugins: Plugins, train: TrainConfig,
           metrics: list[str], name: str, where: str) -> tuple[list[Cell], list[tuple[dict[str, Any], str]]]:
    """The runnable cells (duplicates removed) and the dropped combinations with their reason."""
    cells: list[Cell] = []
    dropped: list[tuple[dict[str, Any], str]] = []
    seen: set[tuple] = set()
    for combo in combos:
        cell, reason = resolve_cell(combo, raw, plugins, train, metrics, name, where)
        if cell is None:
            dropped.append((combo, reason))
            continue
        key = tuple(cell.axes.values())
        if key in seen:
            continue
        seen.add(key)
        cells.append(cell)
    if not cells:
        raise ConfigError(f"{where}: the matrix has no runnable cell")
    return cells, dropped


def _launcher(raw: dict[str, Any], plugins: Plugins, where: str) -> dict[str, Any]:
    launcher = raw.get("launcher") or {}
    if not isinstance(launcher, dict) or not isinstance(launcher.get("name", ""), str) or (launcher and "name" not in launcher):
        raise ConfigError(f"{where}: launcher: expected a mapping with 'name' and the launcher's options, "
                          f"e.g. {{name: queue, slots: 2}}")
    if launcher:
        plugins.registries["launcher"].get(launcher["name"], f"{where}: launcher.name")
    return dict(launcher)


def resolve_cell(
    combo: dict[str, Any],
    raw: dict[str, Any],
    plugins: Plugins,
    train: TrainConfig,
    metrics: list[str],
    matrix_name: str,
    where: str,
) -> tuple[Cell | None, str]:
    """Resolve names and configs of one combination; (None, reason) if it cannot run."""
    dataset_alias = str(combo["dataset"])
    aliases = {
        "dataset": dataset_alias,
        "teacher": str(combo["teacher"]),
        "student": str(combo["student"]),
        "loss": str(combo["loss"]),
        "feature_source": _feature_alias(raw, dataset_alias, str(combo["student"])),
    }
    classes, components, configs = _resolve_components(raw, plugins, aliases, where)
    loss_cls, teacher_cls = classes["loss"], classes["teacher"]
    if not loss_cls.requires_teacher and not teacher_cls.is_null:
        # The teacher would be fitted for nothing: this is the baseline cell.
        return resolve_cell({**combo, "teacher": "none"}, raw, plugins, train, metrics, matrix_name, where)
    if loss_cls.requires_teacher and teacher_cls.is_null:
        return None, f"loss '{aliases['loss']}' needs a teacher"
    if loss_cls.requires_teacher_features and not teacher_cls.provides_features:
        return None, f"loss '{aliases['loss']}' needs teacher features, teacher '{aliases['teacher']}' has none"
    members = _member_teachers(raw, plugins, loss_cls, configs["loss"], aliases, where)
    student_cls, dataset_cls = classes["student"], classes["dataset"]
    missing = [m for m in student_cls.required_modalities if m not in dataset_cls.modalities]
    if missing:
        raise ConfigError(
            f"{where}: student '{aliases['student']}' needs modalities {missing} that dataset "
            f"'{aliases['dataset']}' does not have (it has {list(dataset_cls.modalities)})"
        )
    cell = Cell(
        dataset=aliases["dataset"],
        teacher=aliases["teacher"],
        student=aliases["student"],
        loss=aliases["loss"],
        seed=int(combo["seed"]),
        feature_source=aliases["feature_source"],
        components=components,
        configs=configs,
        train=_student_train(raw, aliases["student"], student_cls, train, dataset_alias, where),
        metrics=metrics,
        matrix=matrix_name,
        baseline=bool(teacher_cls.is_null and getattr(loss_cls, "adds_nothing", not loss_cls.requires_teacher)),
        members=members,
    )
    return cell, ""


def _feature_alias(raw: dict[str, Any], dataset: str, student: str) -> str:
    """The cell's feature source: ``feature_source`` names one, or maps the most specific of
    ``dataset/student``, ``dataset`` and ``default`` to one."""
    fs_raw = raw.get("feature_source") or "simulated"
    if isinstance(fs_raw, dict):
        return str(fs_raw.get(f"{dataset}/{student}", fs_raw.get(dataset, fs_raw.get("default", "simulated"))))
    return str(fs_raw)


def _resolve_components(raw: dict[str, Any], plugins: Plugins, aliases: dict[str, str], where: str
                        ) -> tuple[dict[str, Any], dict[str, str], dict[str, dict[str, Any]]]:
    """Per kind: the registered class, its name and its checked config (as a plain dict)."""
    classes: dict[str, Any] = {}
    components: dict[str, str] = {}
    configs: dict[str, dict[str, Any]] = {}
    for kind, alias in aliases.items():
        cname, values, by_dataset = _component_block(raw, kind, alias, where)
        cls = plugins.get(kind, cname, f"{where}: {kind}")
        values = {**values, **(by_dataset.get(aliases["dataset"]) or {})}
        if kind == "student":
            values.pop("train", None)  # training settings, see _student_train
        cfg = build_config(cls.Config, values, f"{where}: components.{kind}.{alias}")
        classes[kind] = cls
        components[kind] = cname
        configs[kind] = config_to_dict(cfg)
    return classes, components, configs


def _member_teachers(raw: dict[str, Any], plugins: Plugins, loss_cls: Any, loss_config: dict[str, Any],
                     aliases: dict[str, str], where: str) -> dict[str, dict[str, Any]]:
    """The member teachers an ensemble loss names: alias -> registered name and config."""
    members: dict[str, dict[str, Any]] = {}
    loss_obj = loss_cls(build_config(loss_cls.Config, loss_config, f"{where}: components.loss.{aliases['loss']}"))
    for member in loss_obj.member_teachers():
        mname, mvalues, mby = _component_block(raw, "teacher", str(member), where)
        mcls = plugins.get("teacher", mname, f"{where}: components.loss.{aliases['loss']}.teachers")
        if mcls.is_null:
            raise ConfigError(f"{where}: components.loss.{aliases['loss']}: member teacher '{member}' is the null teacher")
        mvalues = {**mvalues, **(mby.get(aliases["dataset"]) or {})}
        mcfg = build_config(mcls.Config, mvalues, f"{where}: components.teacher.{member}")
        members[str(member)] = {"name": mname, "config": config_to_dict(mcfg)}
    return members


def select_cells(cells: list[Cell], only: list[str]) -> list[Cell]:
    """The cells matching any ``--only`` pattern (``AXIS=VALUE[,AXIS=VALUE]``); all without one."""
    wanted: list[dict[str, str]] = []
    for item in only:
        pattern = {}
        for part in item.split(","):
            if "=" not in part:
                raise ConfigError(f"--only {item!r}: expected AXIS=VALUE pairs, e.g. teacher=seq-gru")
            k, v = part.split("=", 1)
            if k.strip() not in ("dataset", "teacher", "student", "loss", "seed"):
                raise ConfigError(f"--only {item!r}: unknown axis '{k}'")
            pattern[k.strip()] = v.strip()
        wanted.append(pattern)
    if not wanted:
        return cells
    out = [c for c in cells if any(all(str(c.axes[k]) == v for k, v in p.items()) for p in wanted)]
    if not out:
        raise ConfigError(f"--only {' '.join(only)}: no cell of the matrix matches")
    return out
