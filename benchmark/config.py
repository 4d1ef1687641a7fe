"""YAML matrix files: safe loading, ``_base_`` inheritance, ``--set`` overrides, and typed
dataclass configs with did-you-mean errors for unknown keys."""
from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .settings import range_problem, ranges

MATRICES_DIR = Path(__file__).parent / "matrices"


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping with ``yaml.safe_load``; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return _unshared(data)


def _unshared(value: Any) -> Any:
    """A copy in which no two places share a mapping or list. YAML anchors (``&a`` / ``*a``)
    load as one shared object; an override of one place must not change the other."""
    if isinstance(value, dict):
        return {k: _unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshared(v) for v in value]
    return value


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge; a mapping with ``_delete_: true`` replaces instead of merging."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not value.get("_delete_"):
            out[key] = deep_merge(out[key], value)
        else:
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "_delete_"}
            out[key] = copy.deepcopy(value)
    return out


def find_matrix(name_or_path: str) -> Path:
    """A path to a YAML file, or the name of a matrix shipped with the package."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: no such matrix file")
        return path
    shipped = MATRICES_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    known = sorted(p.stem for p in MATRICES_DIR.glob("*.yaml") if not p.stem.startswith("_"))
    close = difflib.get_close_matches(name_or_path, known, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(
        f"unknown matrix '{name_or_path}' (not a file, not a shipped matrix).{hint} "
        f"Shipped: {', '.join(known)}"
    )


def load_matrix_file(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load a matrix file and everything it inherits from through ``_base_`` (str or list)."""
    path = path.resolve()
    if path in _seen:
        raise ConfigError(f"{path}: _base_ inheritance cycle")
    data = load_yaml(path)
    bases = data.pop("_base_", None)
    if bases is None:
        return data
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: _base_ must be a file name or a list of file names")
    merged: dict[str, Any] = {}
    for base in bases:
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        if not base_path.exists() and (MATRICES_DIR / base).exists():
            base_path = MATRICES_DIR / base
        merged = deep_merge(merged, load_matrix_file(base_path, _seen + (path,)))
    return deep_merge(merged, data)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides; values are parsed as YAML (``1e-3``, ``[0,1]``, ``true``)."""
    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. train.epochs=3")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"--set {item!r}: empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        value = _number_or_same(value)
        node = out
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: '{part}' is not a mapping")
            node = nxt
        node[parts[-1]] = value
    return out


def _number_or_same(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; treat such strings as the float they spell."""
    if isinstance(value, str):
        try:
            return float(value) if any(ch in value.lower() for ch in "e.") else value
        except ValueError:
            return value
    return value


# ----------------------------------------------------------------------------- typed configs


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, t) for t in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return not args or all(_type_ok(v, args[0]) for v in value)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            return False
        args = typing.get_args(tp)
        return not args or all(_type_ok(v, args[1]) for v in value.values())
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _choice_hint(value: Any, tp: Any) -> str:
    """`` Did you mean 'batchmean'?`` for a misspelt choice of a ``Literal`` type."""
    if not isinstance(value, str):
        return ""
    choices = [a for t in (typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,))
               if typing.get_origin(t) is typing.Literal for a in typing.get_args(t) if isinstance(a, str)]
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
    return f". Did you mean {close[0]!r}?" if close else ""


def build_config(cls: type, values: dict[str, Any] | None, where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``values`` with type checks.

    Unknown keys, wrong types and values outside a declared range (:mod:`benchmark.settings`)
    raise a one-line :class:`ConfigError` naming ``where`` and the key.
    """
    values = dict(values or {})
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{where}: component Config is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    declared = ranges(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=2, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"{where}: unknown key '{key}'.{hint} Known keys: {', '.join(fields) or '(none)'}"
            )
        tp = hints.get(key, Any)
        if tp is float or (typing.get_origin(tp) in (typing.Union, types.UnionType) and float in typing.get_args(tp)):
            value = _number_or_same(value)
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            value = build_config(tp, value, f"{where}.{key}")
        elif not _type_ok(value, tp):
            raise ConfigError(
                f"{where}.{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__}){_choice_hint(value, tp)}"
            )
        if key in declared and (problem := range_problem(value, declared[key])):
            raise ConfigError(f"{where}.{key}: {problem}")
        if tp is float and isinstance(value, int):
            value = float(value)
        if isinstance(value, list) and typing.get_origin(tp) is tuple:
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg or {})
