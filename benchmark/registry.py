"""Name -> component maps built from the registration hooks, with origins and did-you-mean."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError


@dataclass
class Entry:
    name: str
    obj: Any  # a component class, or a BaselineTable object
    origin: str  # plugin name that registered it
    package: str  # distribution, or "plugins dir <folder>", the plugin came from
    builtin: bool

    @property
    def version(self) -> str:
        return str(getattr(self.obj, "version", ""))


@dataclass
class Registry:
    """All components of one kind. Duplicate names keep every origin for error messages."""

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)
    conflicts: dict[str, list[Entry]] = field(default_factory=dict)

    def add(self, entry: Entry) -> str | None:
        """Add an entry; return a warning text if the name was already taken."""
        old = self.entries.get(entry.name)
        if old is None:
            self.entries[entry.name] = entry
            return None
        both = self.conflicts.setdefault(entry.name, [old])
        both.append(entry)
        # A built-in keeps its name; between third parties the name becomes unusable.
        if old.builtin and not entry.builtin:
            keep = old
        elif entry.builtin and not old.builtin:
            keep = entry
        else:
            keep = None
        origins = " and ".join(f"{e.origin} ({e.package})" for e in both)
        if keep is not None:
            self.entries[entry.name] = keep
            self.conflicts.pop(entry.name)
            return (
                f"{self.kind} '{entry.name}' is registered by {origins}; "
                f"the built-in from {keep.origin} is used"
            )
        return f"{self.kind} '{entry.name}' is registered by {origins}; using it is an error"

    def names(self) -> list[str]:
        return sorted(self.entries)

    def get(self, name: str, where: str = "") -> Entry:
        """Look a name up, raising a did-you-mean :class:`ConfigError` if unknown."""
        prefix = f"{where}: " if where else ""
        if name in self.conflicts:
            origins = " and ".join(f"{e.origin} ({e.package})" for e in self.conflicts[name])
            raise ConfigError(
                f"{prefix}{self.kind} '{name}' is registered twice, by {origins}; "
                "block one with BENCH_DISABLE_PLUGINS"
            )
        if name not in self.entries:
            raise ConfigError(prefix + unknown_name_message(self.kind, name, self.names()))
        return self.entries[name]


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} '{name}'.{hint} Available: {', '.join(known) or '(none)'}"
