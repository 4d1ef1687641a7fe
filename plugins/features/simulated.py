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

``modalities`` (rgb, flow, obj) simulates several feature streams, each ``dim`` wide and
concatenated in the order given, each with its own prototypes, noise and visibility draws and
its own mix of the signals (:data:`MODALITY_MIX`): ``flow`` shows mostly the verb (motion),
``obj`` mostly the nouns and the upcoming objects. ``rgb`` alone (the default) is the single
stream described above, unchanged.
"""
from __future__ import annotations

import zlib
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

from benchmark.api import AnticipationData, FeatureSource, LoadContext
from benchmark.errors import ConfigError
from benchmark.protocol import seconds_of
from benchmark.settings import setting

CONTEXT_PHASES = 8


@dataclass(frozen=True)
class ModalityMix:
    """Weights of the signals in one simulated modality (1.0 everywhere = ``rgb``)."""

    verb: float = 1.0  # verb prototype in (a)
    noun: float = 1.0  # noun prototype in (a)
    cue: float = 1.0  # object cues (b), times cue_strength
    context: float = 1.0  # activity context (b), times context_strength
    appearance: float = 1.0  # per-video vector (c), times appearance


#: rgb sees everything; flow (motion) sees the verb and little of objects or appearance; obj
#: (object detector scores) sees nouns and upcoming objects, hardly the verb
MODALITY_MIX: dict[str, ModalityMix] = {
    "rgb": ModalityMix(),
    "flow": ModalityMix(verb=1.5, noun=0.4, cue=0.3, context=0.5, appearance=0.3),
    "obj": ModalityMix(verb=0.3, noun=1.5, cue=1.5, context=1.0, appearance=0.7),
}


def _stream(modality: str) -> list[int]:
    """Extra seed words of a modality's random streams: none for rgb (the original streams),
    a fixed tag for the others, so a modality gives the same values whatever else is listed."""
    return [] if modality == "rgb" else [zlib.crc32(modality.encode())]


@dataclass
class SimulatedConfig:
    dim: int = setting(64, ge=1)
    action_signal: float = setting(1.0, ge=0.0)
    action_specific: float = setting(0.5, ge=0.0)  # weight of the action prototype next to verb + noun
    visible: float = setting(0.8, ge=0.0, le=1.0)
    cue_strength: float = setting(0.6, ge=0.0)
    cue_horizon_s: float = setting(2.0, ge=0.0)
    cue_segments: int = setting(2, ge=0)
    context_strength: float = setting(0.5, ge=0.0)
    appearance: float = setting(0.5, ge=0.0)
    noise: float = setting(1.2, ge=0.0)  # calibrated: see docs/features.md
    # share of the noise variance that is slow (interpolated between random vectors every
    # noise_period_s seconds): neighbouring frames of real video look alike, so sampling a
    # window more densely must not average the noise away
    noise_correlation: float = setting(0.7, ge=0.0, le=1.0)
    noise_period_s: float = setting(1.0, gt=0.0)
    seed: int = setting(0, ge=0)
    # feature streams, each `dim` wide, concatenated in this order (rgb, flow, obj)
    modalities: list[str] = field(default_factory=lambda: ["rgb"])

    def __post_init__(self) -> None:
        mods = list(self.modalities)
        if not mods or any(m not in MODALITY_MIX for m in mods) or len(set(mods)) != len(mods):
            raise ConfigError(
                f"feature source simulated: key 'modalities' expects a non-empty list of distinct names "
                f"from {list(MODALITY_MIX)}, got {mods!r}"
            )


class SimulatedFeatures(FeatureSource):
    name = "simulated"
    version = "2"
    description = "features simulated from the annotations (action evidence, object cues, noise)"
    data_kind = "simulated"
    disk_cache = True
    Config = SimulatedConfig

    def _prototypes(self, data: AnticipationData, modality: str = "rgb") -> dict[str, np.ndarray]:
        c, cls, mix = self.config, data.classes, MODALITY_MIX[modality]
        rng = np.random.default_rng([c.seed, zlib.crc32(data.name.encode()), *_stream(modality)])
        # unit-variance action evidence (for rgb: 1 / sqrt(2 + action_specific^2))
        scale = 1.0 / np.sqrt(mix.verb**2 + mix.noun**2 + c.action_specific**2)
        verb = rng.standard_normal((len(cls.verbs), c.dim))
        noun = rng.standard_normal((len(cls.nouns), c.dim))
        action = rng.standard_normal((cls.num_actions, c.dim))
        evidence = scale * (mix.verb * verb[cls.action_verb] + mix.noun * noun[cls.action_noun]
                            + c.action_specific * action)
        return {"evidence": evidence, "noun": noun, "context": rng.standard_normal((CONTEXT_PHASES, c.dim))}

    def frame_vector(self, data: AnticipationData, protos: dict[str, np.ndarray], video: str, frame: int,
                     starts: list[float], video_end: float, modality: str = "rgb") -> np.ndarray:
        c, mix, tag = self.config, MODALITY_MIX[modality], _stream(modality)
        t = seconds_of(frame)
        vid = zlib.crc32(video.encode())
        rng = np.random.default_rng([c.seed, vid, frame, *tag])
        x = c.noise * np.sqrt(1.0 - c.noise_correlation) * rng.standard_normal(c.dim)
        if c.noise_correlation > 0:
            knot, frac = divmod(t / c.noise_period_s, 1.0)
            a = np.random.default_rng([c.seed, vid, int(knot), 2, *tag]).standard_normal(c.dim)
            b = np.random.default_rng([c.seed, vid, int(knot) + 1, 2, *tag]).standard_normal(c.dim)
            smooth = ((1.0 - frac) * a + frac * b) / np.sqrt((1.0 - frac) ** 2 + frac**2)
            x += c.noise * np.sqrt(c.noise_correlation) * smooth
        timeline = data.timelines.get(video, [])  # none for a test video: no labels to show
        hi = bisect_right(starts, t)
        for seg in timeline[max(0, hi - 16):hi]:  # (a) actions in progress at t
            if seg.end > t and rng.random() < c.visible:
                x += c.action_signal * protos["evidence"][seg.action]
        upcoming = timeline[hi:hi + c.cue_segments]  # (b) objects of the next segments
        for seg in upcoming:
            lead = seg.start - t
            if 0 < lead <= c.cue_horizon_s:
                x += mix.cue * c.cue_strength * (1.0 - lead / c.cue_horizon_s) * protos["noun"][seg.noun]
        if c.context_strength:
            phase = min(max(t / video_end, 0.0), 1.0) * (CONTEXT_PHASES - 1)
            lo = int(np.floor(phase))
            frac = phase - lo
            ctx = (1 - frac) * protos["context"][lo] + frac * protos["context"][min(lo + 1, CONTEXT_PHASES - 1)]
            x += mix.context * c.context_strength * ctx
        return x

    def load(self, data: AnticipationData, split: str, context: LoadContext = LoadContext()) -> np.ndarray:
        c = self.config
        mods = list(c.modalities)
        protos = {m: self._prototypes(data, m) for m in mods}
        samples = data.samples(split)
        frames = np.stack([data.obs_frames(s) for s in samples]) if samples else np.zeros((0, data.obs_steps), np.int64)
        videos = [s.video for s in samples]
        keys: dict[tuple[str, int], int] = {}
        index = np.empty(frames.shape, dtype=np.int64)
        for i, video in enumerate(videos):
            for j, f in enumerate(frames[i]):
                index[i, j] = keys.setdefault((video, int(f)), len(keys))
        table = np.empty((len(keys), len(mods) * c.dim), dtype=np.float32)
        starts = {v: [s.start for s in segs] for v, segs in data.timelines.items()}
        ends = {v: max(s.end for s in segs) for v, segs in data.timelines.items()}
        for s in samples:  # a test video has no annotated segments: its own segments end it
            if s.video not in data.timelines:
                starts[s.video] = []
                ends[s.video] = max(ends.get(s.video, 0.0), s.target.end)
        appearance: dict[tuple[str, str], np.ndarray] = {}
        frames_of = context.progress.iterate(keys.items(), f"features: simulating {split}", len(keys), unit="frame")
        for (video, frame), k in frames_of:
            for j, m in enumerate(mods):
                if (video, m) not in appearance:
                    rng = np.random.default_rng([c.seed, zlib.crc32(video.encode()), 0, 1, *_stream(m)])
                    appearance[video, m] = MODALITY_MIX[m].appearance * c.appearance * rng.standard_normal(c.dim)
                vec = self.frame_vector(data, protos[m], video, frame, starts[video], ends[video], m)
                table[k, j * c.dim:(j + 1) * c.dim] = vec + appearance[video, m]
        layout = {m: [j * c.dim, (j + 1) * c.dim] for j, m in enumerate(mods)}
        self.last_info = {"frames": len(keys), "simulated": True, "layout": layout}
        return table[index]
