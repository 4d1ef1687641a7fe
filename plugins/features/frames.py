"""Raw RGB frames read from per-video JPEG folders, as EPIC-Kitchens distributes them, for
students that train their own image backbone (``avt-b``).

File names come from ``template`` with the placeholders ``{video}``, ``{participant}`` (the
video id up to its first ``_``: ``P01`` for ``P01_02``) and ``{frame}`` (frame number on the
30 fps clock of :mod:`benchmark.protocol`, the numbers every other source uses), e.g. the EPIC
layout ``{participant}/{video}/frame_{frame:010d}.jpg``. Frames extracted at another rate must
be re-extracted at 30 fps (as RULSTM did) so that numbers mean the same time.

Every unique (video, frame) a split needs is decoded once (PIL, RGB, bilinear) into a uint8
table: with ``width: 0`` squashed to ``size`` x ``size``; with ``width`` set, the aspect ratio is
kept: scaled to cover ``size`` x ``width`` (height x width) and centre-cropped to it (EGTEA's
640 x 480 frames at ``size: 280, width: 373`` lose nothing). ``load`` returns float32
``[N, T, 3 * H * W]`` in [0, 1], each frame flattened channel first (C, H, W). That is 4 bytes per value: 10 steps at
64 px take 480 KiB per sample, so large datasets should run ``bench features extract`` once and
use the ``lmdb`` source instead.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.api import AnticipationData, FeatureSource, LoadContext
from benchmark.progress import Progress
from benchmark.checks import FeatureReport, Finding
from benchmark.coverage import Coverage, CoverageConfig, enforce_info, info_entries
from benchmark.errors import ConfigError, DataError
from benchmark.frame_layout import check_template, decode, frame_relpath
from benchmark.settings import setting

# decoded tables: (fingerprint, keys digest) -> (uint8 table [U, 3*size*size], info)
_TABLES: dict[tuple[str, str], tuple[np.ndarray, dict[str, Any]]] = {}


def clear_cache() -> None:
    """Forget the decoded tables (tests, long processes)."""
    _TABLES.clear()


@dataclass
class FramesConfig(CoverageConfig):
    """Where the frames are and how they are read; ``missing``, ``max_missing`` and
    ``max_zero_filled`` are the coverage policy (:mod:`benchmark.coverage`)."""

    root: str = ""  # folder holding the frames (environment variables such as $BENCH_FEATURES_DIR expand)
    template: str = "{video}/frame_{frame:010d}.jpg"  # path of a frame under root
    size: int = setting(64, ge=1)  # frame height (and width when ``width`` is 0)
    width: int = setting(0, ge=0)  # > 0: frames keep their aspect ratio, scaled to cover size x width and centre-cropped
    search_back: int = setting(0, ge=0)  # a missing frame is looked up 1..search_back frames earlier, never later
    cache_dir: str = ""  # if set, decoded tables are saved there as .npy and reused memory-mapped
    workers: int = setting(4, ge=1)  # decoding threads


class FrameFeatures(FeatureSource):
    name = "frames"
    version = "1"
    description = "raw RGB frames from per-video JPEG folders, resized, flattened (for avt-b)"
    data_kind = "real"
    Config = FramesConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.last_info: dict[str, Any] = {}

    def root(self) -> Path:
        """The resolved frames folder; :class:`ConfigError` if it is not one."""
        c = self.config
        if not c.root:
            raise ConfigError("feature source frames: config key 'root' is empty; set it to the frames folder")
        path = Path(os.path.expandvars(c.root)).expanduser().resolve()
        if not path.is_dir():
            raise ConfigError(f"feature source frames: config key 'root': {path} is not a folder")
        check_template(c.template, "feature source frames: config key 'template'")
        return path

    def fingerprint(self) -> str:
        """Hash of the resolved root and its modification time (frames added or removed at the
        top level change it; files rewritten in place do not: clear ``cache_dir`` then)."""
        root = self.root()
        st = root.stat()
        return hashlib.sha256(f"{root}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]

    def shape(self) -> tuple[int, int]:
        """(H, W) of the frames this source returns."""
        c = self.config
        return c.size, c.width or c.size

    def info(self, coverage: Coverage) -> dict[str, Any]:
        h, w = self.shape()
        return {"frames": coverage.needed, **info_entries([coverage]),
                "layout": {"rgb": [0, 3 * h * w]}, "frame_shape": [3, h, w]}

    def load(self, data: AnticipationData, split: str, context: LoadContext = LoadContext()) -> np.ndarray:
        """float32 ``[N, T, 3 * H * W]`` in [0, 1] for ``data.samples(split)``."""
        samples = data.samples(split)
        keys, index = self._unique_keys(data, split)
        c = self.config
        fp = self.fingerprint()
        digest = hashlib.sha256(
            f"{c.template}\0{c.size}\0{c.width}\0{c.search_back}\n".encode()
            + "\n".join(f"{v}\0{f}" for v, f in keys).encode()
        ).hexdigest()[:16]
        cache_key = (fp, digest)
        if cache_key not in _TABLES:
            _TABLES[cache_key] = self._npy_table(fp, digest, len(keys)) or self._decode_table(fp, digest, keys,
                                                                                             context.progress)
        table, info = _TABLES[cache_key]
        enforce_info(self.name, split, info, c)  # before anything trains on black frames
        self.last_info = json.loads(json.dumps(info))
        out = np.asarray(table)[index.reshape(len(samples), data.obs_steps)].astype(np.float32)
        out /= 255.0
        return out

    def inspect(self, data: AnticipationData, split: str, sample: int = 256) -> FeatureReport:
        """Coverage of the split's frame files after the search back, and a decode of up to 16
        of them spread over the split."""
        root = self.root()
        keys, _ = self._unique_keys(data, split)
        resolved = [self._resolve(root, video, frame) for video, frame in keys]
        coverage = Coverage("rgb", split, len(keys), searched_back=sum(s for _, s in resolved))
        for (video, frame), (path, _) in zip(keys, resolved):
            if path is None:
                coverage.note_missing(frame_relpath(self.config.template, video, frame))
        found = f"{len(keys):,} frame files found" + (
            f", {coverage.searched_back:,} only by the search back" if coverage.searched_back else "")
        findings = [coverage.finding(self.config.missing_limit(), "", found)]
        present = [p for p, _ in resolved if p is not None]
        picked = present[:: max(1, len(present) // min(16, max(1, sample)))][:16]
        broken = []
        for path in picked:
            try:
                decode(path, self.shape(), keep_aspect=bool(self.config.width))
            except OSError as exc:
                broken.append(f"{path}: {exc}")
        if broken:
            findings.append(Finding("error", f"{len(broken)} of {len(picked)} sampled frames do not decode, e.g. {broken[0]}"))
        elif picked:
            findings.append(Finding("ok", f"{len(picked)} sampled frames decode"))
        h, w = self.shape()
        return FeatureReport(findings, {"layout": {"rgb": [0, 3 * h * w]}, "frame_shape": [3, h, w]})

    @staticmethod
    def _unique_keys(data: AnticipationData, split: str) -> tuple[list[tuple[str, int]], np.ndarray]:
        """Unique (video, frame) pairs of a split, sorted, and the row of each (sample, step)."""
        rows: dict[tuple[str, int], int] = {}
        flat: list[int] = []
        for sample in data.samples(split):
            for f in data.obs_frames(sample).tolist():
                flat.append(rows.setdefault((sample.video, int(f)), len(rows)))
        keys = sorted(rows)
        rank = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            rank[rows[key]] = i
        return keys, rank[np.asarray(flat, dtype=np.int64)]

    def _resolve(self, root: Path, video: str, frame: int) -> tuple[Path | None, bool]:
        """The file to read for a frame and whether it is an earlier one; (None, False) if none."""
        c = self.config
        path = root / frame_relpath(c.template, video, frame)
        if path.is_file():
            return path, False
        for back in range(1, c.search_back + 1):
            if frame - back < 1:
                break
            other = root / frame_relpath(c.template, video, frame - back)
            if other.is_file():
                return other, True
        return None, False

    def _decode_table(self, fp: str, digest: str, keys: list[tuple[str, int]],
                      progress: Progress) -> tuple[np.ndarray, dict[str, Any]]:
        root = self.root()
        h, w = self.shape()
        table = np.zeros((len(keys), 3 * h * w), dtype=np.uint8)
        resolved = [self._resolve(root, video, frame) for video, frame in keys]
        coverage = Coverage("rgb", "", len(keys), searched_back=sum(s for _, s in resolved))
        for (video, frame), (path, _) in zip(keys, resolved):
            if path is None:
                coverage.note_missing(frame_relpath(self.config.template, video, frame))

        def read(row: int) -> None:
            path = resolved[row][0]
            if path is None:
                return  # stays black
            try:
                table[row] = decode(path, (h, w), keep_aspect=bool(self.config.width)).reshape(-1)
            except OSError as exc:
                raise DataError(f"feature source frames: cannot decode {path}: {exc}") from None

        with ThreadPoolExecutor(self.config.workers) as pool:
            for _ in progress.iterate(pool.map(read, range(len(keys))), "features: decoding frames", len(keys),
                                      unit="frame"):
                pass
        info = self.info(coverage)
        if self.config.cache_dir:
            self._save(fp, digest, table, info)
        return table, info

    def _paths(self, fp: str, digest: str) -> tuple[Path, Path]:
        base = Path(os.path.expandvars(self.config.cache_dir)).expanduser() / f"frames-{fp}-{digest}"
        return base.with_suffix(".npy"), base.with_suffix(".json")

    def _npy_table(self, fp: str, digest: str, rows: int) -> tuple[np.ndarray, dict[str, Any]] | None:
        if not self.config.cache_dir:
            return None
        npy, meta = self._paths(fp, digest)
        if not (npy.is_file() and meta.is_file()):
            return None
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            table = np.load(npy, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        h, w = self.shape()
        if table.dtype != np.uint8 or table.shape != (rows, 3 * h * w) or info.get("frames") != rows:
            return None
        return table, info

    def _save(self, fp: str, digest: str, table: np.ndarray, info: dict[str, Any]) -> None:
        """Write the table (.npy) and its info (.json) atomically into ``cache_dir``."""
        npy, meta = self._paths(fp, digest)
        npy.parent.mkdir(parents=True, exist_ok=True)
        tmp = npy.parent / f".{npy.stem}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, table, allow_pickle=False)
        os.replace(tmp, npy)
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, meta)
