"""Plugin discovery on pluggy: entry points, a plugins folder, and the built-ins.

Environment variables:
  BENCH_PLUGINS_DIR           folder(s) of plain ``.py`` plugin files (``os.pathsep``-separated)
  BENCH_LOAD_PLUGINS=a,b      allow-list of installed third-party plugins (entry-point names); an
                              empty string loads none. Plugins-folder files are always loaded.
  BENCH_DISABLE_PLUGINS=x,y   block these plugins, built-ins included
  BENCH_RAISE_PLUGIN_ERRORS=1 a plugin that fails to load is fatal instead of skipped
  BENCH_TRACE_PLUGINS=1       print every hook call with its arguments and results
"""
from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .api import COMPONENT_KINDS, BaselineTable, ReproductionCard
from .errors import PluginError
from .plugin_api import warn_if_deprecated
from .registry import Entry, Registry

DIST_NAME = "lm2video-bench"
#: Built-in plugin modules. They are declared as entry points in pyproject.toml like any third
#: party's; this list only matters when the package is used from a source tree without install.
BUILTIN_PLUGINS: dict[str, str] = {
    name: f"plugins.{name}"
    for name in ("datasets", "features", "teachers", "students", "losses", "metrics", "baselines", "launchers",
                 "corpora", "cards")
}

#: hook name -> component kind
REGISTRATION_HOOKS: dict[str, str] = {
    "bench_register_teachers": "teacher",
    "bench_register_students": "student",
    "bench_register_losses": "loss",
    "bench_register_datasets": "dataset",
    "bench_register_feature_sources": "feature_source",
    "bench_register_metrics": "metric",
    "bench_register_baselines": "baseline",
    "bench_register_launchers": "launcher",
    "bench_register_corpora": "corpus",
    "bench_register_cards": "card",
}

#: kinds registered as objects (loaded from data files), not as component classes
OBJECT_KINDS = {"baseline": BaselineTable, "card": ReproductionCard}


@dataclass
class PluginInfo:
    name: str
    package: str
    version: str
    builtin: bool
    source: str  # "entry point", "plugins dir", "built-in"
    hooks: list[str] = field(default_factory=list)


def _env_list(var: str) -> list[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


class Plugins:
    """The loaded plugins and one :class:`Registry` per component kind."""

    def __init__(self, plugins_dirs: Iterable[str | Path] = ()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.warnings: list[str] = []
        self.raise_errors = os.environ.get("BENCH_RAISE_PLUGIN_ERRORS", "") not in ("", "0")
        self.allow = _env_list("BENCH_LOAD_PLUGINS")
        self.block = set(_env_list("BENCH_DISABLE_PLUGINS") or [])
        dirs = [Path(d) for d in plugins_dirs]
        env_dirs = os.environ.get("BENCH_PLUGINS_DIR")
        if env_dirs:
            dirs += [Path(d) for d in env_dirs.split(os.pathsep) if d]
        self._load_entry_points()
        self._load_builtins()
        for d in dirs:
            self._load_dir(d)
        self.pm.check_pending()
        if os.environ.get("BENCH_TRACE_PLUGINS", "") not in ("", "0"):
            self.pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
            self.pm.enable_tracing()
        self.registries: dict[str, Registry] = {k: Registry(k) for k in COMPONENT_KINDS}
        self._collect()

    # -- loading -----------------------------------------------------------------------------

    def _skip(self, name: str, package: str, exc: BaseException, what: str = "skipping") -> None:
        msg = f"{what} plugin '{name}' ({package}): {type(exc).__name__}: {exc}"
        if self.raise_errors:
            raise PluginError(msg) from exc
        self.warnings.append(msg)

    def _wanted(self, name: str, builtin: bool) -> bool:
        if name in self.block:
            return False
        if builtin or self.allow is None:
            return True
        return name in self.allow

    def _register(self, module: Any, info: PluginInfo) -> None:
        known = set(REGISTRATION_HOOKS) | {n for n in dir(hookspecs) if n.startswith("bench_")}
        for attr in dir(module):
            if hasattr(getattr(module, attr, None), f"{hookspecs.PROJECT}_impl") and attr not in known:
                close = difflib.get_close_matches(attr, sorted(known), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise PluginError(f"'{attr}' is not a bench hook{hint}")
        self.pm.register(module, name=info.name)
        info.hooks = sorted(
            {impl.name for impl in self.pm.get_hookcallers(module) or []}  # type: ignore[attr-defined]
        )
        self.info[info.name] = info

    def _load_entry_points(self) -> None:
        for ep in md.entry_points(group=hookspecs.PROJECT):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else ""
            builtin = dist == DIST_NAME
            if ep.name in self.info or not self._wanted(ep.name, builtin):
                continue
            try:
                module = ep.load()
                self._register(module, PluginInfo(ep.name, dist, version, builtin, "entry point"))
            except Exception as exc:  # a broken third-party plugin must not break the CLI
                self._skip(ep.name, dist, exc)

    def _load_builtins(self) -> None:
        from . import __version__

        for name, modname in BUILTIN_PLUGINS.items():
            if name in self.info or not self._wanted(name, True):
                continue
            try:
                module = importlib.import_module(modname)
                self._register(module, PluginInfo(name, DIST_NAME, __version__, True, "built-in"))
            except Exception as exc:
                self._skip(name, DIST_NAME, exc)

    def _load_dir(self, folder: Path) -> None:
        if not folder.is_dir():
            self._skip(str(folder), "plugins dir", FileNotFoundError(f"no such folder: {folder}"))
            return
        for path in sorted(folder.glob("*.py")):
            name = path.stem
            # files in a plugins folder were asked for explicitly: only the block-list applies
            if name.startswith("_") or name in self.block:
                continue
            package = f"plugins dir {folder}"
            try:
                spec = importlib.util.spec_from_file_location(f"bench_plugins_dir.{name}", path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
                self._register(module, PluginInfo(name, package, "", False, "plugins dir"))
            except Exception as exc:
                sys.modules.pop(f"bench_plugins_dir.{name}", None)
                self._skip(name, package, exc)

    # -- registries --------------------------------------------------------------------------

    def _collect(self) -> None:
        for hook_name, kind in REGISTRATION_HOOKS.items():
            base = COMPONENT_KINDS[kind]
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                info = self.info.get(impl.plugin_name)
                package = info.package if info else "?"
                builtin = info.builtin if info else False
                try:
                    items = impl.function() or []
                    if not isinstance(items, (list, tuple)):
                        items = [items]
                except Exception as exc:
                    self._skip(impl.plugin_name, package, RuntimeError(f"{hook_name} raised {type(exc).__name__}: {exc}"))
                    continue
                for obj in items:
                    ok = isinstance(obj, OBJECT_KINDS[kind]) if kind in OBJECT_KINDS else (
                        isinstance(obj, type) and issubclass(obj, base)
                    )
                    name = getattr(obj, "name", "")
                    if not ok or not name:
                        self._skip(
                            impl.plugin_name,
                            package,
                            TypeError(f"{hook_name} returned {obj!r}, expected a named {base.__name__}"),
                            "ignoring an item from",
                        )
                        continue
                    if kind not in OBJECT_KINDS:
                        warn_if_deprecated(obj)
                    warning = self.registries[kind].add(
                        Entry(name, obj, impl.plugin_name, package, builtin)
                    )
                    if warning:
                        self.warnings.append(warning)

    def get(self, kind: str, name: str, where: str = "") -> Any:
        """The component class (or baseline table) registered under ``name``."""
        return self.registries[kind].get(name, where).obj

    def hook(self) -> Any:
        return self.pm.hook


_CACHE: dict[tuple[str, ...], Plugins] = {}


def get_plugins(plugins_dirs: Iterable[str | Path] = ()) -> Plugins:
    """Load plugins once per process and per set of plugin folders."""
    key = tuple(str(Path(d).resolve()) for d in plugins_dirs) + (
        os.environ.get("BENCH_PLUGINS_DIR", ""),
        os.environ.get("BENCH_LOAD_PLUGINS", "<unset>"),
        os.environ.get("BENCH_DISABLE_PLUGINS", ""),
    )
    if key not in _CACHE:
        _CACHE[key] = Plugins(plugins_dirs)
    return _CACHE[key]
