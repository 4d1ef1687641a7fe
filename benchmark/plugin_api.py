"""Versions of the plugin API, and the one place that calls a component written against an older
one.

API 2 (this suite): a teacher's ``fit(data, accelerator, seed, context)`` receives a
:class:`~benchmark.api.FitContext` (the plugin registries, the data folder). API 1, supported with
a :class:`PluginAPIDeprecationWarning` until suite version 1.0: ``fit(data, accelerator, seed)``
reading ``self.plugins`` and ``self.data_dir``, which are then set before the call.

A feature source's ``load(data, split, context)`` receives a :class:`~benchmark.api.LoadContext`
(its progress); one written as ``load(data, split)`` is called so, and simply reports nothing."""
from __future__ import annotations

import inspect
import warnings
from typing import Any

API_VERSION = 2
#: the oldest API whose plugins still load (with a warning)
OLDEST_SUPPORTED = 1


class PluginAPIDeprecationWarning(DeprecationWarning):
    """A plugin uses an API older than :data:`API_VERSION`; it still works, for now."""


# shown (once per plugin location) even outside __main__, where DeprecationWarning is hidden
warnings.filterwarnings("default", category=PluginAPIDeprecationWarning)


def _positional(function: Any) -> int:
    """Positional parameters of a method besides ``self`` (a ``*args`` counts as many)."""
    params = list(inspect.signature(function).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 99
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def api_version(cls: type) -> int:
    """The plugin API a component class is written against (read from its method signatures)."""
    if cls.kind == "teacher" and _positional(cls.fit) < 4:
        return 1
    return API_VERSION


def deprecation(cls: type) -> str | None:
    """Why a component class is on a deprecated API, and how to move it (None when it is not)."""
    if api_version(cls) == 1:
        return (f"teacher '{cls.name}' ({cls.__module__}.{cls.__qualname__}) is written against plugin API 1: "
                f"fit(data, accelerator, seed) reading self.plugins and self.data_dir. Plugin API {API_VERSION} "
                "passes them as a fourth argument, fit(data, accelerator, seed, context) with context.plugins and "
                "context.data_dir (benchmark.api.FitContext); API 1 keeps working until suite version 1.0")
    return None


def warn_if_deprecated(cls: type) -> None:
    message = deprecation(cls)
    if message:
        warnings.warn(message, PluginAPIDeprecationWarning, stacklevel=3)


def fit_teacher(teacher: Any, data: Any, accelerator: Any, seed: int, context: Any) -> None:
    """``teacher.fit`` the way its API version takes it."""
    if api_version(type(teacher)) == 1:
        teacher.plugins, teacher.data_dir = context.plugins, context.data_dir
        teacher.fit(data, accelerator, seed)
    else:
        teacher.fit(data, accelerator, seed, context)


def load_features(source: Any, data: Any, split: str, context: Any) -> Any:
    """``source.load`` with the context when its signature takes one."""
    if _positional(type(source).load) >= 3:
        return source.load(data, split, context)
    return source.load(data, split)
