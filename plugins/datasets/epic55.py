"""EPIC-Kitchens-55 on the RULSTM anticipation split (23,493 train / 4,979 val segments).

Files, under ``<data_dir>/epic55/``: ``rulstm/{training,validation,actions}.csv``,
``official/EPIC_{verb,noun}_classes.csv`` and ``official/EPIC_many_shot_*.csv``.
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
class EPIC55Config:
    anticipation_s: float = setting(1.0, gt=0.0)  # tau_a, as in RULSTM and AVT
    sampling: Sampling = "avt"
    avt_frames: int = setting(10, ge=1)  # AVT on EPIC-55: 10 frames at 2 fps (5 s observed)
    avt_fps: float = setting(2.0, gt=0.0)
    rulstm_alpha: float = setting(0.25, gt=0.0)
    rulstm_enc_steps: int = setting(6, ge=0)
    rulstm_ant_steps: int = setting(8, ge=1)
    history_len: int = setting(5, ge=0)  # past actions a text teacher reads (the paper's hist_len for EPIC-55)
    video_start: VideoStart = "clamp"  # "reference": drop and pad as AVT/RULSTM do (docs/datasets.md)
    # how a text teacher reads an action: "official" from the EPIC verb and noun class keys
    # ("take <v> fish"); "authors" from RULSTM's actions.csv names as Ghosh et al. build their
    # texts (" get <v> fish"; docs/teachers.md)
    verbalisation: Literal["official", "authors"] = "official"

    def __post_init__(self) -> None:
        observation(self)  # the window must fit the protocol


def epic_action_text(verb: str, noun: str) -> str:
    """``verb <v> noun``, a noun ``a:b`` (EPIC's 'noun:modifier') read as ``b a``."""
    if ":" in noun:
        head, _, modifier = noun.partition(":")
        noun = f"{modifier.replace(':', ' ')} {head}"
    return f"{verb} <v> {noun}"


def authors_action_text(name: str) -> str:
    """An ``actions.csv`` name as the authors' ``epic55_finetuning.py`` verbalises it: the verb
    is the text before the first ``_``, the noun the text after it with its ``:`` parts in
    reverse order, joined by `` <v> ``. Their pandas read keeps the space that follows each
    comma of the file, so every text starts with one; it is kept because byte-level tokenizers
    (RoBERTa, GPT-2) read `` get`` and ``get`` as different tokens."""
    verb, noun = name.strip().split("_")[:2] if "_" in name else (name.strip(), "")
    return f" {verb} <v> {' '.join(noun.split(':')[::-1])}"


def action_texts(verbalisation: str, names: list[str], verb_keys: list[str], noun_keys: list[str],
                 verbs: list[int], nouns: list[int]) -> list[str]:
    if verbalisation == "authors":
        return [authors_action_text(n) for n in names]
    return [epic_action_text(verb_keys[v], noun_keys[n]) for v, n in zip(verbs, nouns)]


def many_shot_actions(classes: ClassSpace, verbs: list[int], nouns: list[int]) -> list[int]:
    """Actions whose verb *or* noun is many-shot: the action list of RULSTM (``main.py``,
    ``get_many_shot``) and AVT (``datasets/epic_kitchens.py``), which their mean top-5 recall
    averages over. The official ``EPIC_many_shot_actions.csv`` pairs are a smaller set
    (``info["many_shot"]["actions_official"]``)."""
    verb_set, noun_set = set(verbs), set(nouns)
    return [a for a, (v, n) in enumerate(zip(classes.action_verb.tolist(), classes.action_noun.tolist()))
            if v in verb_set or n in noun_set]


class EPIC55(Dataset):
    name = "epic55"
    version = "1"
    description = "EPIC-Kitchens-55, RULSTM anticipation split (train 23,493 / val 4,979)"
    data_kind = "real"
    modalities = ("rgb", "flow", "obj")
    manifest_file = Path(__file__).parent / "manifests" / "epic55.json"
    Config = EPIC55Config

    FILES = {
        "train": "rulstm/training.csv",
        "val": "rulstm/validation.csv",
        "actions": "rulstm/actions.csv",
        "verbs": "official/EPIC_verb_classes.csv",
        "nouns": "official/EPIC_noun_classes.csv",
        "many_shot_verbs": "official/EPIC_many_shot_verbs.csv",
        "many_shot_nouns": "official/EPIC_many_shot_nouns.csv",
        "many_shot_actions": "official/EPIC_many_shot_actions.csv",
    }

    def _paths(self, data_dir: Path | None) -> dict[str, Path]:
        if data_dir is None:
            raise DataError("epic55: no data directory (use --data-dir or BENCH_DATA_DIR)")
        root = Path(data_dir) / self.name
        return {k: root / v for k, v in self.FILES.items()}

    def observation(self):
        return observation(self.config)

    def fingerprint(self, data_dir: Path | None) -> str:
        self.observation()  # validates the protocol settings
        return fingerprint(self.name, self.version, dataclasses.asdict(self.config), self._paths(data_dir).values())

    def load(self, data_dir: Path | None) -> AnticipationData:
        c, paths = self.config, self._paths(data_dir)
        obs = self.observation()
        actions = parsing.read_epic_actions(paths["actions"])
        verb_keys = parsing.read_epic_class_keys(paths["verbs"], "verb_id")
        noun_keys = parsing.read_epic_class_keys(paths["nouns"], "noun_id")
        for i, (v, n) in enumerate(zip(actions.verb, actions.noun)):
            if not (0 <= v < len(verb_keys) and 0 <= n < len(noun_keys)):
                raise DataError(f"{paths['actions']}:{i + 2}: verb {v} or noun {n} is not a known class")
        classes = ClassSpace(
            actions=actions.names,
            verbs=verb_keys,
            nouns=noun_keys,
            action_verb=np.asarray(actions.verb, dtype=np.int64),
            action_noun=np.asarray(actions.noun, dtype=np.int64),
            action_texts=action_texts(c.verbalisation, actions.names, verb_keys, noun_keys, actions.verb, actions.noun),
        )
        annotated = parsing.read_split_segments(paths, actions)
        overlap = {s.video for s in annotated["train"]} & {s.video for s in annotated["val"]}
        if overlap:
            raise DataError(f"{paths['val']}: videos {sorted(overlap)[:3]} also appear in {paths['train'].name}")
        timelines = order_timelines(annotated["train"] + annotated["val"])
        start = apply_video_start(annotated, obs, c.sampling, c.anticipation_s, c.video_start,
                                  "components.dataset.epic55")
        segments = start.kept
        # train and val are disjoint videos: each split's history comes from its own segments
        splits = {split: build_samples(segments[split], order_timelines(segments[split]), c.anticipation_s,
                                       c.history_len) for split in ("train", "val")}
        pair_to_action = {(v, n): a for a, (v, n) in enumerate(zip(actions.verb, actions.noun))}
        verbs = parsing.read_epic_many_shot(paths["many_shot_verbs"], "verb_class")
        nouns = parsing.read_epic_many_shot(paths["many_shot_nouns"], "noun_class")
        many_shot = {
            "verbs": verbs,
            "nouns": nouns,
            "actions": many_shot_actions(classes, verbs, nouns),
            "actions_official": sorted(pair_to_action[p] for p in
                                       parsing.read_epic_many_shot_actions(paths["many_shot_actions"])
                                       if p in pair_to_action),
        }
        return AnticipationData(
            name=self.name, data_kind=self.data_kind, classes=classes, splits=splits, timelines=timelines,
            split_timelines={split: order_timelines(segments[split]) for split in ("train", "val")},
            obs_steps=obs.steps, obs_step_s=obs.step_s, obs_tail_steps=obs.tail_steps,
            dropped=start.dropped, frame_padding=start.padding,
            fingerprint=self.fingerprint(data_dir),
            info={"many_shot": many_shot, "protocol": dataclasses.asdict(c)},
        )
