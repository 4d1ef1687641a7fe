"""A seeded generator of kitchen-like videos for tests and first contact.

Each video follows one of a few recipes: a fixed script of actions (verb, noun), performed with
skipped steps and stray actions. The same action occurs in several recipes and at several
positions, so a model that reads the action history (which recipe, which step) predicts the next
action well, while a vision model that only sees a noisy glimpse of the last action or two cannot
do as well. That is the situation text-to-vision distillation is meant for.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.api import AnticipationData, ClassSpace, Dataset, Sample, Segment
from benchmark.runid import digest
from benchmark.settings import setting

VERBS = ["take", "put", "open", "close", "wash", "cut", "pour", "mix", "turn-on", "turn-off",
         "dry", "peel", "stir", "throw", "fill", "check"]
NOUNS = ["knife", "pan", "fridge", "tap", "plate", "onion", "bowl", "spoon", "lid", "cupboard",
         "bread", "oil", "egg", "board", "sponge", "cup", "salt", "tomato", "drawer", "kettle"]


@dataclass
class SyntheticConfig:
    num_verbs: int = setting(8, ge=1, le=len(VERBS))
    num_nouns: int = setting(10, ge=1, le=len(NOUNS))
    num_actions: int = setting(30, ge=2)  # at most num_verbs * num_nouns
    train_videos: int = setting(60, ge=1)
    val_videos: int = setting(20, ge=1)
    segments_per_video: int = setting(30, ge=1)
    recipes: int = setting(6, ge=1)  # number of action scripts
    skip: float = setting(0.15, ge=0.0, lt=1.0)  # probability of skipping a step of the script
    randomness: float = setting(0.1, ge=0.0, le=1.0)  # probability of a stray, uniformly random action
    min_duration_s: float = setting(1.0, gt=0.0)
    max_duration_s: float = setting(3.0, gt=0.0)
    max_gap_s: float = setting(1.0, ge=0.0)
    anticipation_s: float = setting(1.0, gt=0.0)  # tau_a: the observation ends this long before the action starts
    obs_steps: int = setting(8, ge=1)
    obs_step_s: float = setting(0.5, gt=0.0)
    seed: int = setting(0, ge=0)

    def __post_init__(self) -> None:
        if self.num_actions > self.num_verbs * self.num_nouns:
            raise ValueError(f"num_actions: expected at most num_verbs * num_nouns "
                             f"({self.num_verbs * self.num_nouns}), got {self.num_actions}")
        if self.min_duration_s > self.max_duration_s:
            raise ValueError(f"min_duration_s: expected at most max_duration_s ({self.max_duration_s}), "
                             f"got {self.min_duration_s}")


class SyntheticKitchens(Dataset):
    name = "synthetic"
    version = "1"
    description = "seeded synthetic kitchen videos (second-order Markov action grammar)"
    data_kind = "synthetic"
    modalities = ("rgb", "flow", "obj")
    Config = SyntheticConfig

    def fingerprint(self, data_dir: Path | None) -> str:
        return "synthetic-" + digest({"generator": self.version, "config": vars(self.config)})

    def _classes(self, rng: np.random.Generator) -> ClassSpace:
        c = self.config
        if c.num_verbs > len(VERBS) or c.num_nouns > len(NOUNS):
            raise ValueError(f"synthetic: at most {len(VERBS)} verbs and {len(NOUNS)} nouns")
        if not 2 <= c.num_actions <= c.num_verbs * c.num_nouns:
            raise ValueError("synthetic: num_actions must be in [2, num_verbs * num_nouns]")
        pairs = rng.choice(c.num_verbs * c.num_nouns, size=c.num_actions, replace=False)
        pairs.sort()
        verbs = (pairs // c.num_nouns).astype(np.int64)
        nouns = (pairs % c.num_nouns).astype(np.int64)
        names = [f"{VERBS[v]}_{NOUNS[n]}" for v, n in zip(verbs, nouns)]
        return ClassSpace(
            actions=names,
            verbs=VERBS[: c.num_verbs],
            nouns=NOUNS[: c.num_nouns],
            action_verb=verbs,
            action_noun=nouns,
            action_texts=[f"{VERBS[v]} <v> {NOUNS[n]}" for v, n in zip(verbs, nouns)],
        )

    def load(self, data_dir: Path | None) -> AnticipationData:
        c = self.config
        rng = np.random.default_rng(c.seed)
        classes = self._classes(rng)
        A = c.num_actions
        scripts = rng.integers(0, A, size=(c.recipes, c.segments_per_video))
        timelines: dict[str, list[Segment]] = {}
        splits: dict[str, list[Sample]] = {"train": [], "val": []}
        videos = [("train", f"S{i:03d}") for i in range(c.train_videos)]
        videos += [("val", f"V{i:03d}") for i in range(c.val_videos)]
        split_of = {video: split for split, video in videos}
        for split, video in videos:
            script = scripts[rng.integers(0, c.recipes)]
            actions: list[int] = []
            step = 0
            while len(actions) < c.segments_per_video:
                if rng.random() < c.randomness:
                    actions.append(int(rng.integers(0, A)))
                    continue
                if rng.random() < c.skip:
                    step += 1
                actions.append(int(script[step % len(script)]))
                step += 1
            t = float(rng.uniform(0.0, 2.0))
            segments = []
            for i, a in enumerate(actions):
                duration = float(rng.uniform(c.min_duration_s, c.max_duration_s))
                segments.append(Segment(f"{video}-{i:03d}", video, round(t, 3), round(t + duration, 3),
                                        int(a), int(classes.action_verb[a]), int(classes.action_noun[a])))
                t += duration + float(rng.uniform(0.0, c.max_gap_s))
            timelines[video] = segments
            for i, seg in enumerate(segments[1:], start=1):
                history = tuple(s.action for s in segments[:i])
                splits[split].append(Sample(seg.uid, video, seg, seg.start - c.anticipation_s, history))
        return AnticipationData(
            name=self.name,
            data_kind=self.data_kind,
            classes=classes,
            splits=splits,
            timelines=timelines,
            split_timelines={split: {v: timelines[v] for v, s in split_of.items() if s == split}
                             for split in ("train", "val")},
            obs_steps=c.obs_steps,
            obs_step_s=c.obs_step_s,
            fingerprint=self.fingerprint(data_dir),
            info={"videos": {"train": c.train_videos, "val": c.val_videos}},
        )
