"""Simulated visual features, for datasets without real feature files at hand.

Every observed time step gets a vector that carries noisy evidence of the action(s) annotated at
that moment of the video: the sum of a per-action, a per-verb and a per-noun prototype, scaled by
``signal``, sometimes hidden (``visible`` probability), plus Gaussian noise. Results computed on
these features are labelled ``simulated`` (or ``synthetic``) everywhere; they say how a method
behaves, never what it scores on real video.
"""
from __future__ import annotations

import zlib
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from benchmark.api import AnticipationData, FeatureSource


@dataclass
class SimulatedConfig:
    dim: int = 64
    signal: float = 1.0
    noise: float = 1.5
    visible: float = 0.8  # probability that an ongoing action leaves evidence at a step
    seed: int = 0


class SimulatedFeatures(FeatureSource):
    name = "simulated"
    version = "1"
    description = "noisy per-step evidence of the annotated actions (labelled simulated)"
    data_kind = "simulated"
    Config = SimulatedConfig

    def load(self, data: AnticipationData, split: str) -> np.ndarray:
        c = self.config
        proto_rng = np.random.default_rng([c.seed, zlib.crc32(data.fingerprint.encode())])
        cls = data.classes
        p_action = proto_rng.standard_normal((cls.num_actions, c.dim)).astype(np.float32)
        p_verb = proto_rng.standard_normal((len(cls.verbs), c.dim)).astype(np.float32)
        p_noun = proto_rng.standard_normal((len(cls.nouns), c.dim)).astype(np.float32)
        evidence = p_action + 0.5 * p_verb[cls.action_verb] + 0.5 * p_noun[cls.action_noun]

        starts = {v: [s.start for s in segs] for v, segs in data.timelines.items()}
        samples = data.splits[split]
        out = np.zeros((len(samples), data.obs_steps, c.dim), dtype=np.float32)
        for i, sample in enumerate(samples):
            rng = np.random.default_rng([c.seed, zlib.crc32(sample.uid.encode())])
            timeline = data.timelines[sample.video]
            for t_idx, t in enumerate(data.obs_times(sample)):
                # segments that started at or before t and have not ended yet
                hi = bisect_right(starts[sample.video], t)
                for seg in timeline[max(0, hi - 8):hi]:
                    if seg.end > t and seg.start <= t and rng.random() < c.visible:
                        out[i, t_idx] += c.signal * evidence[seg.action]
            out[i] += c.noise * rng.standard_normal((data.obs_steps, c.dim)).astype(np.float32)
        return out
