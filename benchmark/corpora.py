"""Stage-A corpora as the core sees them: built from what a teacher declares
(:meth:`~benchmark.api.Teacher.corpus`), checked for availability before a run, and
fingerprinted for the teacher cache key and the teacher's provenance."""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from .api import Corpus, Teacher
from .config import build_config
from .plugin_manager import Plugins

_SHA256: dict[tuple[str, int, int], str] = {}


def build_corpus(plugins: Plugins, name: str, config: dict[str, Any], where: str) -> Corpus:
    """The registered corpus ``name`` with ``config`` (errors name ``where``)."""
    cls = plugins.get("corpus", name, f"{where}: pretrain_corpus")
    return cls(build_config(cls.Config, config, f"{where}: pretrain_corpus_config"))


def teacher_corpus(plugins: Plugins, teacher: Teacher, where: str) -> Corpus | None:
    """The corpus ``teacher`` pretrains on, built, or None."""
    declared = teacher.corpus()
    return None if declared is None else build_corpus(plugins, declared[0], declared[1], where)


def provenance(corpus: Corpus | None, data_dir: Path | None) -> dict[str, Any] | None:
    """What a teacher's record says about its corpus: name, version, config and fingerprint."""
    if corpus is None:
        return None
    return {"name": corpus.name, "version": corpus.version, "config": dataclasses.asdict(corpus.config),
            "fingerprint": corpus.fingerprint(data_dir)}


def file_sha256(path: Path) -> str:
    """The sha256 of a file, computed once per process for each (path, size, mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256:
        with path.open("rb") as fh:
            _SHA256[key] = hashlib.file_digest(fh, "sha256").hexdigest()
    return _SHA256[key]
