"""Backbone features from JPEG frames into an LMDB in the RULSTM/AVT layout (``bench features
extract``), read back by the ``lmdb`` feature source.

The frames are those a dataset's samples need (the numbers :meth:`AnticipationData.obs_frames`
gives for every observed step, as the ``lmdb`` source will ask for them), or every JPEG under
the frames folder. Each is decoded (RGB, bilinear resize to the backbone's input size), normalised
with the backbone's mean and std, and passed through a headless timm model in eval mode; the
pooled feature is stored as little-endian float32 bytes under ``{video}_frame_{frame:010d}.jpg``.
The LMDB is written in a temporary folder next to ``out`` and renamed into place when complete.
"""
from __future__ import annotations

import os
import re
import shutil
import string
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .api import AnticipationData
from .errors import ConfigError, DataError
from .frame_layout import check_template, decode, frame_key, frame_relpath, participant_of


@dataclass
class ExtractResult:
    out: Path
    frames: int  # features written
    dim: int  # feature size
    seconds: float
    skipped: int = 0  # frames without a file (with skip_missing)


def needed_frames(data: AnticipationData, splits: Sequence[str]) -> list[tuple[str, int]]:
    """Sorted unique (video, frame) pairs the samples of ``splits`` observe."""
    keys: set[tuple[str, int]] = set()
    for split in splits:
        if split not in data.splits:
            raise ConfigError(f"--splits: dataset '{data.name}' has no split '{split}' "
                              f"(it has {', '.join(data.splits)})")
        for sample in data.splits[split]:
            keys.update((sample.video, int(f)) for f in data.obs_frames(sample).tolist())
    return sorted(keys)


def template_regex(template: str) -> re.Pattern[str]:
    """A regex matching the paths ``template`` produces, capturing ``video`` and ``frame``."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is None:
            continue
        if field in seen:
            parts.append(f"(?P={field})")
            continue
        seen.add(field)
        parts.append(r"(?P<frame>\d+)" if field == "frame" else f"(?P<{field}>[^/]+?)")
    return re.compile("".join(parts) + r"\Z")


def scan_frames(root: Path, template: str) -> list[tuple[str, int]]:
    """Every (video, frame) with a file under ``root`` matching ``template``, sorted."""
    pattern = template_regex(template)
    found: set[tuple[str, int]] = set()
    for folder, _, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        for name in files:
            match = pattern.match((rel / name).as_posix())
            if match is None:
                continue
            video = match.group("video")
            if "participant" in match.groupdict() and match.group("participant") != participant_of(video):
                continue
            found.add((video, int(match.group("frame"))))
    return sorted(found)


def _device(name: str | None) -> str:
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cpu" and not name.startswith("cuda"):
        raise ConfigError(f"--device: expected cpu or cuda, got '{name}'")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is visible (use --device cpu)")
    return name


def _put(env: Any, items: Iterable[tuple[bytes, bytes]]) -> Any:
    """Write one batch in one transaction, doubling the map size when it is full."""
    import lmdb

    items = list(items)
    while True:
        try:
            with env.begin(write=True) as txn:
                for key, value in items:
                    txn.put(key, value)
            return env
        except lmdb.MapFullError:
            env.set_mapsize(env.info()["map_size"] * 2)


def extract_features(
    frames_root: Path | str,
    template: str,
    out: Path | str,
    backbone: str,
    *,
    data: AnticipationData | None = None,
    splits: Sequence[str] = ("train", "val"),
    all_frames: bool = False,
    weights: str = "",
    pretrained: bool = False,
    batch_size: int = 64,
    image_size: int = 0,
    device: str | None = None,
    skip_missing: bool = False,
    overwrite: bool = False,
    workers: int = 4,
    backbone_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> ExtractResult:
    """Write features of the frames ``data``'s ``splits`` need (or, with ``all_frames``, of every
    frame file found) to the LMDB folder ``out``. Bad input raises :class:`ConfigError`."""
    import torch
    from tqdm.auto import tqdm

    from .backbones import FramePreprocess, create_backbone, input_size, mean_std

    tic = time.perf_counter()
    root, out = Path(frames_root).expanduser(), Path(out).expanduser()
    _check_options(root, template, out, batch_size, image_size, workers, overwrite)
    dev = _device(device)
    keys, paths, lacking = _frames_to_extract(root, template, data, splits, all_frames, skip_missing)
    model = create_backbone(backbone, pretrained, weights, image_size, backbone_kwargs, "--backbone")
    model.eval().to(dev)
    size = input_size(model, image_size)
    prep = FramePreprocess(size, *mean_std(model)).to(dev)
    dim = int(model.num_features)

    def features(batch: list[tuple[str, int]], frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(frames).to(dev).float().div_(255.0)
        feats = model(prep(x)).float().cpu().numpy().astype("<f4")
        if feats.shape != (len(batch), dim):
            raise ConfigError(f"--backbone {backbone}: output shape {tuple(feats.shape)}, "
                              f"expected ({len(batch)}, {dim}) pooled features")
        return feats

    bar = tqdm(total=len(keys), desc=f"extract {backbone}", unit="frame", disable=None if progress else True)
    try:
        with torch.inference_mode():
            _write_lmdb(out, keys, paths, size, dim, batch_size, workers, features, bar.update)
    finally:
        bar.close()
    return ExtractResult(out, len(keys), dim, round(time.perf_counter() - tic, 3), len(lacking))


def _check_options(root: Path, template: str, out: Path, batch_size: int, image_size: int, workers: int,
                   overwrite: bool) -> None:
    if not root.is_dir():
        raise ConfigError(f"--frames: {root} is not a folder")
    check_template(template, "--template")
    if batch_size < 1:
        raise ConfigError(f"--batch-size: expected a positive number, got {batch_size}")
    if image_size < 0:
        raise ConfigError(f"--image-size: expected 0 (the backbone's default) or a size, got {image_size}")
    if workers < 1:
        raise ConfigError(f"--workers: expected a positive number, got {workers}")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())) and not overwrite:
        raise ConfigError(f"--out: {out} already exists (use --overwrite to replace it)")


def _frames_to_extract(root: Path, template: str, data: AnticipationData | None, splits: Sequence[str],
                       all_frames: bool, skip_missing: bool
                       ) -> tuple[list[tuple[str, int]], dict[tuple[str, int], Path], list[tuple[str, int]]]:
    """The (video, frame) keys to extract in LMDB order, their files, and the keys without one
    (an error unless ``skip_missing``)."""
    if all_frames:
        keys = scan_frames(root, template)
    elif data is not None:
        keys = needed_frames(data, splits)
    else:
        raise ConfigError("features extract: give a dataset (--dataset) or --all-frames")
    paths = {k: root / frame_relpath(template, *k) for k in keys}
    lacking = [k for k in keys if not paths[k].is_file()]
    if lacking and not skip_missing:
        video, frame = lacking[0]
        raise DataError(f"--frames: frame file {paths[lacking[0]]} not found (video '{video}', frame {frame}; "
                        f"{len(lacking)} of {len(keys)} frames lack a file; check --template or use --skip-missing)")
    lacking_set = set(lacking)
    keys = sorted((k for k in keys if k not in lacking_set), key=lambda k: frame_key(*k))  # LMDB order
    if not keys:
        raise ConfigError(f"--frames: no frame file to extract under {root} (template {template!r})")
    return keys, paths, lacking


def _write_lmdb(out: Path, keys: list[tuple[str, int]], paths: dict[tuple[str, int], Path], size: tuple[int, int], dim: int,
                batch_size: int, workers: int, features: Any, advance: Any) -> None:
    """Decode the frames batch by batch (the next batch while the backbone runs on this one), write
    their ``features(batch, frames)`` into a temporary LMDB, then put it in place of ``out``;
    nothing half-written stays behind, also on Ctrl-C."""
    import lmdb

    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(tmp), map_size=int(len(keys) * (dim * 4 + 256) * 1.5) + (1 << 24), subdir=True)
    batches = [keys[i:i + batch_size] for i in range(0, len(keys), batch_size)]
    try:
        with ThreadPoolExecutor(workers) as pool:
            def submit(batch: list[tuple[str, int]]) -> list[Future]:
                return [pool.submit(decode, paths[k], size) for k in batch]

            pending = submit(batches[0])
            for i, batch in enumerate(batches):
                frames = np.stack([f.result() for f in pending])
                if i + 1 < len(batches):
                    pending = submit(batches[i + 1])
                feats = features(batch, frames)
                env = _put(env, ((frame_key(*k), feats[j].tobytes()) for j, k in enumerate(batch)))
                advance(len(batch))
        env.sync(True)
        env.close()
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        env.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
