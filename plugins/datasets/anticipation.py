"""The anticipation protocol shared by the real datasets: observation sampling, histories and
samples built from annotated segments."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from benchmark.api import Sample, Segment
from benchmark.errors import ConfigError
from benchmark.runid import digest


@dataclass
class Observation:
    """How the observed window before ``start - tau_a`` is sampled."""

    steps: int
    step_s: float
    tail_steps: int  # steps after start - tau_a kept for students that train on every horizon


def observation(sampling: str, anticipation_s: float, avt_frames: int, avt_fps: float,
                rulstm_alpha: float, rulstm_enc_steps: int, rulstm_ant_steps: int, where: str) -> Observation:
    """AVT-style: ``avt_frames`` frames at ``avt_fps`` ending at start - tau_a.
    RULSTM-style: ``enc + ant`` steps every ``alpha`` seconds ending alpha before the start,
    of which the step at start - tau_a is the one scored."""
    if anticipation_s <= 0:
        raise ConfigError(f"{where}.anticipation_s must be positive")
    if sampling == "avt":
        if avt_frames < 1 or avt_fps <= 0:
            raise ConfigError(f"{where}: avt_frames must be >= 1 and avt_fps > 0")
        return Observation(avt_frames, 1.0 / avt_fps, 0)
    if sampling == "rulstm":
        k = anticipation_s / rulstm_alpha
        if abs(k - round(k)) > 1e-6 or not 1 <= round(k) <= rulstm_ant_steps:
            raise ConfigError(
                f"{where}: with rulstm sampling anticipation_s must be a multiple of rulstm_alpha "
                f"between {rulstm_alpha} and {rulstm_ant_steps * rulstm_alpha} s, got {anticipation_s}"
            )
        return Observation(rulstm_enc_steps + rulstm_ant_steps, rulstm_alpha, int(round(k)) - 1)
    raise ConfigError(f"{where}.sampling: expected 'avt' or 'rulstm', got {sampling!r}")


Sampling = Literal["avt", "rulstm"]


def order_timelines(segments: Iterable[Segment]) -> dict[str, list[Segment]]:
    """Per video, segments ordered by (start, end, uid)."""
    by_video: dict[str, list[Segment]] = defaultdict(list)
    for seg in segments:
        by_video[seg.video].append(seg)
    return {v: sorted(segs, key=lambda s: (s.start, s.end, _uid_key(s.uid))) for v, segs in sorted(by_video.items())}


def _uid_key(uid: str) -> tuple[int, str]:
    return (int(uid), "") if uid.isdigit() else (0, uid)


def build_samples(targets: list[Segment], history_timelines: dict[str, list[Segment]],
                  anticipation_s: float, history_len: int) -> list[Sample]:
    """One sample per target segment, in (video, start) order.

    The history holds the actions of the segments of ``history_timelines`` in the same video that
    start strictly before the target starts (never the target, never a segment starting at the
    same time or later), the latest ``history_len`` of them, oldest first.
    """
    samples = []
    for video, segs in order_timelines(targets).items():
        past = history_timelines.get(video, [])
        j = 0
        for seg in segs:
            while j < len(past) and past[j].start < seg.start:
                j += 1
            history = tuple(s.action for s in past[max(0, j - history_len):j]) if history_len > 0 else ()
            samples.append(Sample(seg.uid, video, seg, seg.start - anticipation_s, history))
    return samples


def file_fingerprint(paths: Iterable[Path]) -> dict[str, str]:
    """sha256 of every file (name -> hex), so edited annotations change the run ids."""
    out = {}
    for p in sorted(paths):
        if not p.is_file():
            raise ConfigError(f"{p}: annotation file not found (run `bench data download` or set --data-dir)")
        out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def fingerprint(name: str, version: str, config: dict, files: Iterable[Path]) -> str:
    return f"{name}-" + digest({"dataset": name, "version": version, "config": config,
                                "files": file_fingerprint(files)})
