"""EGTEA Gaze+ with the RULSTM/AVT splits (106 actions, 19 verbs, 51 nouns).

Files, under ``<data_dir>/egtea/``: ``rulstm/{training,validation}{1,2,3}.csv``,
``rulstm/actions.csv`` and ``official/{verb,noun}_idx.txt`` (names cross-checked).

EGTEA's splits are by clip: every validation video also has training clips. With
``history_source: same-split`` (the default, as in the paper's "gappy" histories) a sample's
history holds only earlier clips of its own split, so no validation label ever reaches a
training input. ``all`` also lets a sample see earlier clips of the other split (still never the
anticipated clip or anything starting at or after it).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from benchmark.api import AnticipationData, ClassSpace, Dataset
from benchmark.settings import setting
from benchmark.errors import DataError

from . import parsing
from .anticipation import (Sampling, VideoStart, apply_video_start, build_samples, fingerprint,
                           observation, order_timelines)


@dataclass
class EGTEAConfig:
    split: Literal[1, 2, 3] = 1
    anticipation_s: float = setting(0.5, gt=0.0)  # tau_a = 0.5 s as in AVT; 1.0 as in RULSTM
    sampling: Sampling = "avt"
    avt_frames: int = setting(10, ge=1)  # AVT on EGTEA: 10 frames at 1 fps
    avt_fps: float = setting(1.0, gt=0.0)
    rulstm_alpha: float = setting(0.25, gt=0.0)
    rulstm_enc_steps: int = setting(6, ge=0)
    rulstm_ant_steps: int = setting(8, ge=1)
    history_len: int = setting(15, ge=0)  # the paper's hist_len for EGTEA
    history_source: Literal["same-split", "all"] = "same-split"
    video_start: VideoStart = "clamp"  # "reference": drop and pad as AVT/RULSTM do (docs/datasets.md)

    def __post_init__(self) -> None:
        observation(self)  # the window must fit the protocol


def egtea_action_text(name: str) -> str:
    """``Take_eating:utensil`` -> ``take <v> eating utensil`` (lowercase, '/' read as 'or')."""
    text = name.lower().replace("_", " <v> ", 1).replace("/", " or ").replace(":", " ")
    return " ".join(text.split())


class EGTEA(Dataset):
    name = "egtea"
    version = "1"
    description = "EGTEA Gaze+, RULSTM/AVT splits 1-3 (106 actions)"
    data_kind = "real"
    modalities = ("rgb", "flow")
    manifest_file = Path(__file__).parent / "manifests" / "egtea.json"
    Config = EGTEAConfig

    def _paths(self, data_dir: Path | None) -> dict[str, Path]:
        if data_dir is None:
            raise DataError("egtea: no data directory (use --data-dir or BENCH_DATA_DIR)")
        root, s = Path(data_dir) / self.name, self.config.split
        return {
            "train": root / f"rulstm/training{s}.csv",
            "val": root / f"rulstm/validation{s}.csv",
            "actions": root / "rulstm/actions.csv",
            "verbs": root / "official/verb_idx.txt",
            "nouns": root / "official/noun_idx.txt",
        }

    def observation(self):
        return observation(self.config)

    def fingerprint(self, data_dir: Path | None) -> str:
        self.observation()
        return fingerprint(self.name, self.version, dataclasses.asdict(self.config), self._paths(data_dir).values())

    def load(self, data_dir: Path | None) -> AnticipationData:
        c, paths = self.config, self._paths(data_dir)
        obs = self.observation()
        actions, verb_names, noun_names = parsing.read_egtea_actions(paths["actions"])
        official_verbs = parsing.read_egtea_index(paths["verbs"])
        for vid, name in verb_names.items():
            if official_verbs.get(vid + 1) != name:
                raise DataError(f"{paths['verbs']}: verb {vid + 1} is {official_verbs.get(vid + 1)!r}, "
                                f"actions.csv calls it {name!r}")
        official_nouns = set(parsing.read_egtea_index(paths["nouns"]).values())
        for nid, name in noun_names.items():
            if name.replace(":", "_") not in official_nouns:
                raise DataError(f"{paths['nouns']}: no noun {name.replace(':', '_')!r} (noun {nid} of actions.csv)")
        n_verbs, n_nouns = max(verb_names) + 1, max(noun_names) + 1
        classes = ClassSpace(
            actions=actions.names,
            verbs=[verb_names.get(i, f"verb{i}") for i in range(n_verbs)],
            nouns=[noun_names.get(i, f"noun{i}").replace(":", " ") for i in range(n_nouns)],
            action_verb=np.asarray(actions.verb, dtype=np.int64),
            action_noun=np.asarray(actions.noun, dtype=np.int64),
            action_texts=[egtea_action_text(n) for n in actions.names],
        )
        annotated = parsing.read_split_segments(paths, actions)
        both = {s.uid for s in annotated["train"]} & {s.uid for s in annotated["val"]}
        if both:
            raise DataError(f"{paths['val']}: clip ids {sorted(both)[:3]} are also in {paths['train'].name}")
        timelines = order_timelines(annotated["train"] + annotated["val"])
        start = apply_video_start(annotated, obs, c.sampling, c.anticipation_s, c.video_start,
                                  "components.dataset.egtea")
        segments = start.kept
        splits = {}
        for split in ("train", "val"):
            source = order_timelines(segments["train"] + segments["val"]) if c.history_source == "all" \
                else order_timelines(segments[split])
            splits[split] = build_samples(segments[split], source, c.anticipation_s, c.history_len)
        return AnticipationData(
            name=self.name, data_kind=self.data_kind, classes=classes, splits=splits, timelines=timelines,
            split_timelines={split: order_timelines(segments[split]) for split in ("train", "val")},
            obs_steps=obs.steps, obs_step_s=obs.step_s, obs_tail_steps=obs.tail_steps,
            dropped=start.dropped, frame_padding=start.padding,
            fingerprint=self.fingerprint(data_dir), info={"protocol": dataclasses.asdict(c)},
        )
