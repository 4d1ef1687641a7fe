"""Simulated visual features built from the annotations, for runs without real feature files.

A frame at time ``t`` of video ``v`` (frame number ``floor(30 t)``) is a vector that sums:

(a) evidence of the action(s) in progress at ``t``: verb and noun prototypes plus a smaller
    action-specific one, so related actions look alike; each ongoing action shows with
    probability ``visible``;
(b) anticipatory scene cues, as a real camera shows them: the objects (noun prototypes) of the
    next ``cue_segments`` segments become visible over the ``cue_horizon_s`` seconds before they
    start, ramping linearly from 0 to ``cue_strength``; and a slow context of how far the video
    is into its activity (``context_strength``);
(c) a per-video appearance vector (``appearance``);
(d) Gaussian noise (``noise``), partly slow in time (``noise_correlation``) as real features of
    neighbouring frames are alike.

Everything is seeded by (seed, video, frame), so a frame always gives the same vector, like a
pre-extracted feature, whatever sample asks for it. Results on these features are labelled
``simulated`` in every record and leaderboard row: they show how methods behave, not what they
score on real video. The only future information is (b): objects near in time, which the
camera sees before they are touched; no label of the anticipated segment enters otherwise.
"""
from __future__ import annotations

import zlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from benchmark.api import AnticipationData, FeatureSource
from benchmark.protocol import frames_of, seconds_of

CONTEXT_PHASES = 8


@dataclass
class SimulatedConfig:
    dim: int = 64
    action_signal: float = 1.0
    action_specific: float = 0.5  # weight of the action prototype next to verb + noun
    visible: float = 0.8
    cue_strength: float = 0.6
    cue_horizon_s: float = 2.0
    cue_segments: int = 2
    context_strength: float = 0.5
    appearance: float = 0.5
    noise: float = 1.2  # calibrated: see docs/features.md
    # share of the noise variance that is slow (interpolated between random vectors every
    # noise_period_s seconds): neighbouring frames of real video look alike, so sampling a
    # window more densely must not average the noise away
    noise_correlation: float = 0.7
    noise_period_s: float = 1.0
    seed: int = 0


class SimulatedFeatures(FeatureSource):
    name = "simulated"
    version = "2"
    description = "features simulated from the annotations (action evidence, object cues, noise)"
    data_kind = "simulated"
    Config = SimulatedConfig

    def _prototypes(self, data: AnticipationData) -> dict[str, np.ndarray]:
        c, cls = self.config, data.classes
        rng = np.random.default_rng([c.seed, zlib.crc32(data.name.encode())])
        scale = 1.0 / np.sqrt(2.0 + c.action_specific**2)  # unit-variance action evidence
        verb = rng.standard_normal((len(cls.verbs), c.dim))
        noun = rng.standard_normal((len(cls.nouns), c.dim))
        action = rng.standard_normal((cls.num_actions, c.dim))
        evidence = scale * (verb[cls.action_verb] + noun[cls.action_noun] + c.action_specific * action)
        return {"evidence": evidence, "noun": noun, "context": rng.standard_normal((CONTEXT_PHASES, c.dim))}

    def frame_vector(self, data: AnticipationData, protos: dict[str, np.ndarray], video: str, frame: int,
                     starts: list[float], video_end: float) -> np.ndarray:
        c = self.config
        t = seconds_of(frame)
        vid = zlib.crc32(video.encode())
        rng = np.random.default_rng([c.seed, vid, frame])
        x = c.noise * np.sqrt(1.0 - c.noise_correlation) * rng.standard_normal(c.dim)
        if c.noise_correlation > 0:
            knot, frac = divmod(t / c.noise_period_s, 1.0)
            a = np.random.default_rng([c.seed, vid, int(knot), 2]).standard_normal(c.dim)
            b = np.random.default_rng([c.seed, vid, int(knot) + 1, 2]).standard_normal(c.dim)
            smooth = ((1.0 - frac) * a + frac * b) / np.sqrt((1.0 - frac) ** 2 + frac**2)
            x += c.noise * np.sqrt(c.noise_correlation) * smooth
        timeline = data.timelines[video]
        hi = bisect_right(starts, t)
        for seg in timeline[max(0, hi - 16):hi]:  # (a) actions in progress at t
            if seg.end > t and rng.random() < c.visible:
                x += c.action_signal * protos["evidence"][seg.action]
        upcoming = timeline[hi:hi + c.cue_segments]  # (b) objects of the next segments
        for seg in upcoming:
            lead = seg.start - t
            if 0 < lead <= c.cue_horizon_s:
                x += c.cue_strength * (1.0 - lead / c.cue_horizon_s) * protos["noun"][seg.noun]
        if c.context_strength:
            phase = min(max(t / video_end, 0.0), 1.0) * (CONTEXT_PHASES - 1)
            lo = int(np.floor(phase))
            frac = phase - lo
            ctx = (1 - frac) * protos["context"][lo] + frac * protos["context"][min(lo + 1, CONTEXT_PHASES - 1)]
            x += c.context_strength * ctx
        return x

    def load(self, data: AnticipationData, split: str) -> np.ndarray:
        c = self.config
        protos = self._prototypes(data)
        samples = data.splits[split]
        frames = np.stack([frames_of(data.obs_times(s)) for s in samples]) if samples else np.zeros((0, data.obs_steps), np.int64)
        videos = [s.video for s in samples]
        keys: dict[tuple[str, int], int] = {}
        index = np.empty(frames.shape, dtype=np.int64)
        for i, video in enumerate(videos):
            for j, f in enumerate(frames[i]):
                index[i, j] = keys.setdefault((video, int(f)), len(keys))
        table = np.empty((len(keys), c.dim), dtype=np.float32)
        starts = {v: [s.start for s in segs] for v, segs in data.timelines.items()}
        ends = {v: max(s.end for s in segs) for v, segs in data.timelines.items()}
        appearance = {}
        for (video, frame), k in keys.items():
            if video not in appearance:
                rng = np.random.default_rng([c.seed, zlib.crc32(video.encode()), 0, 1])
                appearance[video] = c.appearance * rng.standard_normal(c.dim)
            table[k] = self.frame_vector(data, protos, video, frame, starts[video], ends[video]) + appearance[video]
        self.last_info = {"frames": len(keys), "simulated": True}
        return table[index]
