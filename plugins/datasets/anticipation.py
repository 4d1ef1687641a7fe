"""The anticipation protocol shared by the real datasets: observation sampling, histories and
samples built from annotated segments."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np

from benchmark.api import Sample, Segment
from benchmark.errors import ConfigError
from benchmark.protocol import FramePadding, frames_of
from benchmark.runid import digest


@dataclass
class Observation:
    """How the observed window before ``start - tau_a`` is sampled."""

    steps: int
    step_s: float
    tail_steps: int  # steps after start - tau_a kept for students that train on every horizon


def observation(c: Any) -> Observation:
    """The observation window of a dataset config ``c`` (its protocol keys).

    AVT-style: ``avt_frames`` frames at ``avt_fps`` ending at start - tau_a.
    RULSTM-style: ``enc + ant`` steps every ``alpha`` seconds ending alpha before the start,
    of which the step at start - tau_a is the one scored. Ranges are declared on the config;
    a combination that does not fit raises ``ValueError`` (called from its ``__post_init__``,
    so ``bench validate`` reports it)."""
    if c.sampling == "avt":
        return Observation(c.avt_frames, 1.0 / c.avt_fps, 0)
    k = c.anticipation_s / c.rulstm_alpha
    if abs(k - round(k)) > 1e-6 or not 1 <= round(k) <= c.rulstm_ant_steps:
        raise ValueError(
            f"with rulstm sampling anticipation_s must be a multiple of rulstm_alpha between "
            f"{c.rulstm_alpha} and {c.rulstm_ant_steps * c.rulstm_alpha} s, got {c.anticipation_s}")
    return Observation(c.rulstm_enc_steps + c.rulstm_ant_steps, c.rulstm_alpha, int(round(k)) - 1)


Sampling = Literal["avt", "rulstm"]
#: what happens to observations that reach back before a video's first frame
#: (``clamp``: every segment kept, early steps read frame 1; ``reference``: as the reference code
#: of the sampling protocol, see :func:`apply_video_start`)
VideoStart = Literal["clamp", "reference"]

BEFORE_VIDEO = "observation ends before the video's first frame"


@dataclass
class VideoStartResult:
    kept: dict[str, list[Segment]]
    dropped: dict[str, dict[str, int]]
    padding: FramePadding


def apply_video_start(segments: dict[str, list[Segment]], obs: Observation, sampling: str,
                      anticipation_s: float, policy: str, where: str) -> VideoStartResult:
    """Drop the segments the reference code of ``sampling`` drops, under ``policy: reference``.

    A segment goes when the last step it observes comes before frame 1 of the 30 fps clock:
    for AVT-style sampling that step is start - tau_a (AVT ``convert_to_anticipation``,
    ``drop_style='correct'``: at least one frame observed); for RULSTM-style sampling it is
    start - alpha, the latest frame RULSTM samples (``dataset.py``: a sequence whose frames are
    all below 1 is discarded). RULSTM pads the earlier steps of a kept sequence with its first
    valid frame, so that is the padding under ``reference`` with RULSTM sampling; AVT's readers
    start at the video's first frame (``clamp``). Dropped segments are neither trained on nor
    scored, and no kept sample sees their labels."""
    if policy == "clamp":
        return VideoStartResult(segments, {}, "clamp")
    if policy != "reference":
        raise ConfigError(f"{where}.video_start: expected 'clamp' or 'reference', got {policy!r}")
    last_step = obs.tail_steps * obs.step_s - anticipation_s  # relative to the segment's start
    kept, dropped = {}, {}
    for split, segs in segments.items():
        kept[split] = [s for s in segs if frames_of(np.array([s.start + last_step]), "none")[0] >= 1]
        if len(kept[split]) < len(segs):
            dropped[split] = {BEFORE_VIDEO: len(segs) - len(kept[split])}
    return VideoStartResult(kept, dropped, "first-valid" if sampling == "rulstm" else "clamp")


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


#: settings added after a dataset's first release, with the value that reproduces it: left out
#: of the fingerprint at that value, so run ids and teacher caches made before stay valid
NEUTRAL_SETTINGS = {"video_start": "clamp"}


def fingerprint(name: str, version: str, config: dict, files: Iterable[Path]) -> str:
    hashed = {k: v for k, v in config.items() if NEUTRAL_SETTINGS.get(k, object()) != v}
    return f"{name}-" + digest({"dataset": name, "version": version, "config": hashed,
                                "files": file_fingerprint(files)})
