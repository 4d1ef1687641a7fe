"""Planning: every cell of a matrix gets its identity (what it runs, on which data and features,
with which component versions), the run id hashed from it, and its recorded status."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..errors import ConfigError
from ..matrix import Cell, Matrix
from ..runid import canonical_json, identity, run_id
from ..store import RunStore
from .components import Components
from .jobs import Job


class Planner:
    def __init__(self, components: Components, store: RunStore, data_dir: Path):
        self.components = components
        self.store = store
        self.data_dir = data_dir
        self._fingerprints: dict[str, str] = {}
        #: feature source -> why its files are unavailable (planning with ``require_features=False``)
        self.unavailable_features: dict[str, str] = {}
        #: teacher -> why the corpus it pretrains on is unavailable (``require_features=False``)
        self.unavailable_corpora: dict[str, str] = {}

    def plan(self, matrix: Matrix, require_features: bool = True) -> list[Job]:
        """Jobs of every cell with its run id and status. ``require_features=False`` lets a
        feature source whose files are absent through (listed in ``unavailable_features``)."""
        jobs = []
        for cell in matrix.cells:
            ident = identity(cell, self.components.versions(cell), self.dataset_fingerprint(cell),
                             __version__.split(".")[0], self.feature_fingerprint(cell, require_features),
                             self.corpus_fingerprint(cell, require_features))
            rid = run_id(ident)
            jobs.append(Job(cell, rid, ident, self.store.status(rid)))
        return jobs

    def dataset_fingerprint(self, cell: Cell) -> str:
        key = canonical_json([cell.components["dataset"], cell.configs["dataset"], str(self.data_dir)])
        if key not in self._fingerprints:
            self._fingerprints[key] = self._fingerprint(cell, "dataset", lambda c: c.fingerprint(self.data_dir))
        return self._fingerprints[key]

    def feature_fingerprint(self, cell: Cell, required: bool = True) -> str:
        key = canonical_json(["fs", cell.components["feature_source"], cell.configs["feature_source"]])
        if key not in self._fingerprints:
            try:
                self._fingerprints[key] = self._fingerprint(cell, "feature_source", lambda c: c.fingerprint())
            except ConfigError as exc:
                if required:
                    raise
                # validation without the feature files (e.g. the paper profile on a laptop)
                self.unavailable_features[cell.feature_source] = str(exc)
                return "unavailable"
        return self._fingerprints[key]

    def corpus_fingerprint(self, cell: Cell, required: bool = True) -> str:
        """The fingerprint of the corpus the cell's teacher pretrains on ("" without one)."""
        corpus = self.components.corpus(cell)
        if corpus is None:
            return ""
        try:
            return corpus.fingerprint(self.data_dir)
        except ConfigError as exc:
            if required:
                raise ConfigError(f"teacher '{cell.teacher}': {exc}") from None
            self.unavailable_corpora[cell.teacher] = str(exc)
            return "unavailable"

    def _fingerprint(self, cell: Cell, kind: str, fn: Callable[[Any], str]) -> str:
        try:
            return str(fn(self.components.build(cell, kind)))
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"{kind} '{getattr(cell, kind)}': {type(exc).__name__}: {exc}".splitlines()[0]
            ) from None
