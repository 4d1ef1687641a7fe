"""Real pre-extracted features read from LMDB environments in the RULSTM/AVT layout.

One LMDB environment (a folder holding ``data.mdb``) per modality. Keys are the UTF-8 strings
``f"{video}_frame_{frame:010d}.jpg"`` with frame numbers on the 30 fps clock of
:mod:`benchmark.protocol`; values are the raw little-endian bytes of one feature vector
(float32: 1024-d for RULSTM rgb/flow, 352-d for obj, 2048-d for AVT's irCSN-152).

``load`` collects the unique (video, frame) keys a split needs, reads each once in key order
(one read transaction per modality) into one contiguous table, and builds ``[N, T, D]`` with a
single fancy index. The table is kept in a process-wide cache, and optionally as a ``.npy`` file
reused memory-mapped, so further cells and later processes do not read the LMDB again.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.api import AnticipationData, FeatureSource, LoadContext
from benchmark.progress import Progress
from benchmark.checks import FeatureReport, Finding
from benchmark.coverage import Coverage, CoverageConfig, enforce_info, info_entries
from benchmark.errors import ConfigError, DataError
from benchmark.frame_layout import frame_key
from benchmark.settings import setting

# py-lmdb >= 2 refuses to open one environment twice in a process: one handle per resolved path,
# with the (size, mtime) of data.mdb it was opened at, so a rewritten file gets a fresh handle.
_ENVS: dict[str, tuple[Any, tuple[int, int]]] = {}
_ENVS_LOCK = threading.Lock()
# preloaded tables: (fingerprint, keys digest) -> (table [U, D_total] float32, info)
_TABLES: dict[tuple[str, str], tuple[np.ndarray, dict[str, Any]]] = {}


def clear_cache() -> None:
    """Forget the preloaded tables and close every open environment (tests, long processes)."""
    _TABLES.clear()
    with _ENVS_LOCK:
        for env, _ in _ENVS.values():
            env.close()
        _ENVS.clear()


def _stat(mdb: Path) -> tuple[int, int]:
    st = mdb.stat()
    return st.st_size, st.st_mtime_ns


def _open_env(path: Path, readahead: bool = False) -> Any:
    """The process-wide read-only handle of the environment at ``path`` (resolved); py-lmdb
    refuses a second handle on one path, so a changed file or flag reopens the only one."""
    import lmdb

    key = str(path)
    stamp = (_stat(path / "data.mdb"), readahead)
    with _ENVS_LOCK:
        cached = _ENVS.get(key)
        if cached is not None:
            if cached[1] == stamp:
                return cached[0]
            cached[0].close()  # the file (or the readahead flag) changed since it was opened
            del _ENVS[key]
        env = lmdb.open(key, readonly=True, lock=False, readahead=readahead, max_readers=512, subdir=True)
        _ENVS[key] = (env, stamp)
        return env


@dataclass
class LMDBConfig(CoverageConfig):
    """Where the LMDBs are and how they are read; ``missing``, ``max_missing`` and
    ``max_zero_filled`` are the coverage policy (:mod:`benchmark.coverage`)."""

    root: str = ""  # folder holding one sub-folder (LMDB environment) per modality
    modalities: list[str] = field(default_factory=lambda: ["rgb"])  # sub-folders of root, or absolute paths
    search_back: int = setting(9, ge=0)  # a missing frame is looked up 1..search_back frames earlier, never later
    cache_dir: str = ""  # if set, preloaded tables are saved there as .npy and reused memory-mapped
    dtype: str = "float32"  # element type of the stored values (little-endian); output is float32
    # OS readahead: faster first reads when a split needs most of a file (about 7x from a cold
    # disk in tests/perf/test_perf_lmdb.py), slower when it needs a small part of a large file
    readahead: bool = False

    def __post_init__(self) -> None:
        if not self.modalities:
            raise ValueError("modalities must name at least one LMDB")
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities has duplicates: {self.modalities}")
        try:
            kind = np.dtype(self.dtype).kind
        except TypeError:
            kind = ""
        if kind != "f":
            raise ValueError(f"dtype must be a float type such as float32 or float16, got {self.dtype!r}")


class LMDBFeatures(FeatureSource):
    name = "lmdb"
    version = "1"
    description = "pre-extracted features from RULSTM/AVT-style LMDBs (one per modality)"
    data_kind = "real"
    Config = LMDBConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.last_info: dict[str, Any] = {}

    # -- files ---------------------------------------------------------------------------------

    def paths(self) -> dict[str, Path]:
        """Resolved LMDB folder per modality; :class:`ConfigError` if one is missing."""
        c = self.config
        out: dict[str, Path] = {}
        for i, modality in enumerate(c.modalities):
            given = Path(modality).expanduser()
            if not given.is_absolute():
                if not c.root:
                    raise ConfigError(
                        f"feature source lmdb: modality '{modality}' is a relative path and config key "
                        f"'root' is empty; set root to the folder holding one LMDB per modality"
                    )
                given = Path(os.path.expandvars(c.root)).expanduser() / given
            path = given.resolve()
            if not (path / "data.mdb").is_file():
                what = "has no data.mdb" if path.is_dir() else "does not exist"
                raise ConfigError(
                    f"feature source lmdb: LMDB folder {path} {what} (config keys 'root' = {c.root!r}, "
                    f"'modalities[{i}]' = {modality!r})"
                )
            out[modality] = path
        return out

    def fingerprint(self) -> str:
        """Short hash of each modality's resolved path and the size and mtime of its data.mdb."""
        h = hashlib.sha256()
        for modality, path in self.paths().items():
            size, mtime = _stat(path / "data.mdb")
            h.update(f"{modality}\0{path}\0{size}\0{mtime}\n".encode())
        return h.hexdigest()[:16]

    # -- loading -------------------------------------------------------------------------------

    def load(self, data: AnticipationData, split: str, context: LoadContext = LoadContext()) -> np.ndarray:
        """float32 ``[N, T, D_total]`` for ``data.samples(split)``; modalities concatenated."""
        samples = data.samples(split)
        n, steps = len(samples), data.obs_steps
        keys, index = self._unique_keys(data, split)
        fp = self.fingerprint()
        c = self.config
        digest = hashlib.sha256(
            f"{c.search_back}\0{np.dtype(c.dtype).str}\n".encode() + b"\n".join(keys)
        ).hexdigest()[:16]
        cache_key = (fp, digest)
        if cache_key not in _TABLES:
            _TABLES[cache_key] = self._npy_table(fp, digest, len(keys)) or self._read_table(fp, digest, keys,
                                                                                           context.progress)
        table, info = _TABLES[cache_key]
        enforce_info(self.name, split, info, c)  # before anything trains on zero-filled rows
        self.last_info = json.loads(json.dumps(info))  # a private copy
        return np.ascontiguousarray(np.asarray(table)[index.reshape(n, steps)], dtype=np.float32)

    def inspect(self, data: AnticipationData, split: str, sample: int = 256) -> FeatureReport:
        """Coverage of the split's keys after the search back, the width of every value, and
        NaN / Inf / all-zero vectors among ``sample`` values spread over the split, per modality;
        nothing is copied but the sampled values."""
        keys, _ = self._unique_keys(data, split)
        dtype = np.dtype(self.config.dtype).newbyteorder("<")
        report, start = FeatureReport(), 0
        layout: dict[str, list[int]] = {}
        for modality, path in self.paths().items():
            env = _open_env(path)
            dim = self._dim(modality, env, path, dtype)
            layout[modality] = [start, start + dim]
            start += dim
            report.findings += self._inspect_modality(modality, split, env, keys, dim, dtype, sample)
        report.info = {"layout": layout, "dtype": self.config.dtype}
        return report

    def _inspect_modality(self, modality: str, split: str, env: Any, keys: list[bytes], dim: int,
                          dtype: np.dtype, sample: int) -> list[Finding]:
        coverage = Coverage(modality, split, len(keys))
        wrong: list[tuple[str, int]] = []
        every = max(1, len(keys) // max(1, sample))
        values = []
        with env.begin(buffers=True) as txn:
            for row, key in enumerate(keys):
                value = txn.get(key)
                if value is None:
                    value, _ = self._search_back(txn.get, key)
                    if value is None:
                        coverage.note_missing(key.decode())
                        continue
                    coverage.searched_back += 1
                if len(value) != dim * dtype.itemsize:
                    wrong.append((key.decode(), len(value)))
                elif row % every == 0 and len(values) < sample:
                    values.append(np.frombuffer(bytes(value), dtype=dtype).astype(np.float32))
        where = f"modality '{modality}'"
        found = f"{len(keys) - coverage.missing:,} of {len(keys):,} frames found"
        if coverage.searched_back:
            found += f", {coverage.searched_back:,} of them only by the search back (up to {self.config.search_back} frames)"
        out = [coverage.finding(self.config.missing_limit(), f"{where}: ", found)]
        if wrong:
            out.append(Finding("error", f"{where}: {len(wrong):,} values are not {dim} x {dtype.name}, e.g. "
                                        f"{wrong[0][0]} has {wrong[0][1]} bytes"))
        if values:
            table = np.stack(values)
            bad = int((~np.isfinite(table)).any(axis=1).sum())
            zero = int((table == 0).all(axis=1).sum())
            if bad:
                out.append(Finding("error", f"{where}: {bad} of {len(table)} sampled vectors hold NaN or Inf"))
            if zero:
                out.append(Finding("warning", f"{where}: {zero} of {len(table)} sampled vectors are all zero"))
            if not bad and not zero:
                out.append(Finding("ok", f"{where}: {len(table)} sampled vectors of {dim} {dtype.name} values are "
                                         "finite and non-zero"))
        return out

    def _unique_keys(self, data: AnticipationData, split: str) -> tuple[list[bytes], np.ndarray]:
        """Sorted unique keys of a split and, per (sample, step), its row among them."""
        samples = data.samples(split)
        steps = data.obs_steps
        video_ids: dict[str, int] = {}
        vids = np.empty(len(samples), dtype=np.int64)
        frames = np.empty((len(samples), steps), dtype=np.int64)
        for i, sample in enumerate(samples):
            vids[i] = video_ids.setdefault(sample.video, len(video_ids))
            frames[i] = data.obs_frames(sample)
        codes = (np.repeat(vids, steps) << 40) | frames.reshape(-1)
        uniq, inverse = np.unique(codes, return_inverse=True)
        names = list(video_ids)
        mask = (1 << 40) - 1
        keys = [frame_key(names[code >> 40], code & mask) for code in uniq.tolist()]
        # rows in key order: canonical for a key set, and LMDB's own order (sequential reads)
        order = sorted(range(len(keys)), key=keys.__getitem__)
        rank = np.empty(len(keys), dtype=np.int64)
        rank[order] = np.arange(len(keys))
        return [keys[i] for i in order], rank[inverse.reshape(-1)]

    def _npy_table(self, fp: str, digest: str, rows: int) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The table saved by an earlier process, memory-mapped, or None."""
        if not self.config.cache_dir:
            return None
        base = Path(self.config.cache_dir).expanduser() / f"lmdb-{fp}-{digest}"
        npy, meta = base.with_suffix(".npy"), base.with_suffix(".json")
        if not (npy.is_file() and meta.is_file()):
            return None
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            table = np.load(npy, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        width = max((stop for _, stop in info.get("layout", {}).values()), default=0)
        if table.dtype != np.float32 or table.shape != (rows, width) or info.get("frames") != rows:
            return None
        return table, info

    def _read_table(self, fp: str, digest: str, keys: list[bytes],
                    progress: Progress) -> tuple[np.ndarray, dict[str, Any]]:
        """Read every key once from every modality into one ``[U, D_total]`` float32 table."""
        paths = self.paths()
        envs = {m: _open_env(p, self.config.readahead) for m, p in paths.items()}
        dtype = np.dtype(self.config.dtype).newbyteorder("<")
        layout: dict[str, list[int]] = {}
        start = 0
        for modality, env in envs.items():
            dim = self._dim(modality, env, paths[modality], dtype)
            layout[modality] = [start, start + dim]
            start += dim
        table = np.zeros((len(keys), start), dtype=np.float32)
        coverages = []
        for modality, env in envs.items():
            lo, hi = layout[modality]
            coverages.append(self._read_modality(modality, env, paths[modality], keys, table[:, lo:hi], dtype,
                                                  progress))
        info: dict[str, Any] = {"frames": len(keys), **info_entries(coverages), "layout": layout}
        if self.config.cache_dir:
            self._save(fp, digest, table, info)
        return table, info

    @staticmethod
    def _dim(modality: str, env: Any, path: Path, dtype: np.dtype) -> int:
        """Feature size of a modality, from the first value of its LMDB."""
        with env.begin(buffers=True) as txn:
            cursor = txn.cursor()
            if not cursor.first():
                raise DataError(f"lmdb features: modality '{modality}': {path} holds no keys")
            nbytes = len(cursor.value())
        if nbytes == 0 or nbytes % dtype.itemsize:
            raise DataError(
                f"lmdb features: modality '{modality}': first value in {path} has {nbytes} bytes, "
                f"not a whole number of {dtype.name} values"
            )
        return nbytes // dtype.itemsize

    def _read_modality(self, modality: str, env: Any, path: Path, keys: list[bytes],
                       out: np.ndarray, dtype: np.dtype, progress: Progress) -> Coverage:
        """Fill ``out[i]`` with the value of ``keys[i]`` (rows of missing keys stay zero); the
        split is named when the coverage is enforced."""
        dim = out.shape[1]
        nbytes = dim * dtype.itemsize
        coverage = Coverage(modality, "", len(keys))
        with env.begin(buffers=True) as txn:
            get = txn.get
            for row, key in enumerate(progress.iterate(keys, f"features: reading {modality} from lmdb",
                                                       unit="frame")):
                value = get(key)
                used = key
                if value is None:
                    value, used = self._search_back(get, key)
                    if value is None:
                        coverage.note_missing(key.decode())
                        continue  # the row stays zero
                    coverage.searched_back += 1
                if len(value) != nbytes:
                    raise DataError(
                        f"lmdb features: modality '{modality}': key '{used.decode()}' in {path} has "
                        f"{len(value)} bytes ({len(value) / dtype.itemsize:g} values), expected {nbytes} "
                        f"({dim} values of {dtype.name})"
                    )
                out[row] = np.frombuffer(value, dtype=dtype)
        return coverage

    def _search_back(self, get: Any, key: bytes) -> tuple[Any, bytes]:
        """The value of the nearest earlier frame within ``search_back`` frames, never a later one."""
        text = key.decode("utf-8")
        video, _, rest = text.rpartition("_frame_")
        frame = int(rest[: -len(".jpg")])
        for back in range(1, self.config.search_back + 1):
            if frame - back < 0:
                break
            other = frame_key(video, frame - back)
            value = get(other)
            if value is not None:
                return value, other
        return None, key

    def _save(self, fp: str, digest: str, table: np.ndarray, info: dict[str, Any]) -> None:
        """Write the table as .npy (plus its info as JSON) atomically into ``cache_dir``."""
        folder = Path(self.config.cache_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        base = folder / f"lmdb-{fp}-{digest}"
        tmp = folder / f".{base.name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, table, allow_pickle=False)
        os.replace(tmp, base.with_suffix(".npy"))
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, base.with_suffix(".json"))
