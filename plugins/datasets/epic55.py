"""EPIC-Kitchens-55 on the RULSTM anticipation split (23,493 train / 4,979 val segments).

Files, under ``<data_dir>/epic55/``: ``rulstm/{training,validation,actions}.csv``,
``official/EPIC_{verb,noun}_classes.csv`` and ``official/EPIC_many_shot_*.csv``; the unlabelled
test sets ``rulstm/test_{seen,unseen}.csv`` for submission files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchmark.api import ChallengeFormat, ClassSpace
from benchmark.settings import setting

from . import parsing
from .anticipation import Sampling, VideoStart, observation
from .epic_kitchens import EpicKitchensDataset, SplitParts


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


#: EPIC-55's action-anticipation challenge: one file per test set (RULSTM and AVT write the same)
EPIC55_CHALLENGE = ChallengeFormat(
    version="0.1", files={"test_seen": "seen.json", "test_unseen": "unseen.json"},
    warning="EPIC-55's test segments are part of EPIC-100's validation set (all seen-kitchen test videos, 32 of "
            "the 54 unseen-kitchen ones; the other 22 are EPIC-100 training videos), whose labels are public: "
            "EPIC-55 test numbers are no longer a fair benchmark; report EPIC-100")


class EPIC55(EpicKitchensDataset):
    name = "epic55"
    version = "1"
    description = "EPIC-Kitchens-55, RULSTM anticipation split (train 23,493 / val 4,979)"
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
    #: the challenge's seen (S1) and unseen (S2) kitchens test sets; their segments are part of
    #: EPIC-100's validation set
    TEST_FILES = {"test_seen": "rulstm/test_seen.csv", "test_unseen": "rulstm/test_unseen.csv"}
    challenge = EPIC55_CHALLENGE

    CLASS_COLUMNS = {"verbs": ("verb_id", "class_key"), "nouns": ("noun_id", "class_key")}

    def action_texts(self, actions: parsing.ActionTable, verbs: list[str], nouns: list[str]) -> list[str]:
        return action_texts(self.config.verbalisation, actions.names, verbs, nouns, actions.verb, actions.noun)

    def info(self, paths: dict[str, Path], classes: ClassSpace, parts: SplitParts) -> dict[str, Any]:
        pair_to_action = {(v, n): a for a, (v, n) in enumerate(zip(classes.action_verb.tolist(),
                                                                   classes.action_noun.tolist()))}
        verbs = parsing.read_epic_many_shot(paths["many_shot_verbs"], "verb_class")
        nouns = parsing.read_epic_many_shot(paths["many_shot_nouns"], "noun_class")
        return {"many_shot": {
            "verbs": verbs,
            "nouns": nouns,
            "actions": many_shot_actions(classes, verbs, nouns),
            "actions_official": sorted(pair_to_action[p] for p in
                                       parsing.read_epic_many_shot_actions(paths["many_shot_actions"])
                                       if p in pair_to_action),
        }}
