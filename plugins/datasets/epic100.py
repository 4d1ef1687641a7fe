"""EPIC-Kitchens-100 on RULSTM's anticipation split (67,217 train / 9,668 val segments, 3,806
actions over 97 verbs and 300 nouns), the benchmark the anticipation literature reports since
2021 (AVT, DCR, AFFT, S-GEAR, InAViT).

Files, under ``<data_dir>/epic100/``: ``rulstm/{training,validation,actions}.csv``,
``official/EPIC_100_{verb,noun}_classes.csv`` (the action texts), the subset lists of the
official metric ``rulstm/validation_{unseen_participants,tail_verbs,tail_nouns,tail_actions}_ids.csv``
(segment ids; each metric on a subset fails naming its file when that file is missing), and the
unlabelled test segments ``rulstm/test_timestamps.csv`` for a submission file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from benchmark.api import ChallengeFormat
from benchmark.errors import DataError
from benchmark.runid import digest

from . import parsing
from .anticipation import file_fingerprint
from .epic55 import EPIC55Config, epic_action_text
from .epic_kitchens import EpicKitchensDataset

#: the subsets of the official metric: name -> the RULSTM file listing their segment ids
SUBSET_FILES = {
    "unseen": "rulstm/validation_unseen_participants_ids.csv",
    "tail_verbs": "rulstm/validation_tail_verbs_ids.csv",
    "tail_nouns": "rulstm/validation_tail_nouns_ids.csv",
    "tail_actions": "rulstm/validation_tail_actions_ids.csv",
}

#: EPIC-100's action-anticipation challenge (version 0.2, with the supervision levels)
EPIC100_CHALLENGE = ChallengeFormat(version="0.2", files={"test": "test.json"}, supervision_levels=True)


@dataclass
class EPIC100Config(EPIC55Config):
    """The protocol of ``epic55`` (tau_a 1 s, AVT- or RULSTM-style sampling, histories of 5 for
    the teachers). Action texts come from the official class keys only: the distillation paper
    never verbalised EPIC-100."""

    verbalisation: Literal["official"] = "official"


class EPIC100(EpicKitchensDataset):
    name = "epic100"
    version = "1"
    description = "EPIC-Kitchens-100, RULSTM anticipation split (train 67,217 / val 9,668)"
    manifest_file = Path(__file__).parent / "manifests" / "epic100.json"
    Config = EPIC100Config
    numeric_ids = False
    challenge = EPIC100_CHALLENGE

    FILES = {
        "train": "rulstm/training.csv",
        "val": "rulstm/validation.csv",
        "actions": "rulstm/actions.csv",
        "verbs": "official/EPIC_100_verb_classes.csv",
        "nouns": "official/EPIC_100_noun_classes.csv",
    }
    TEST_FILES = {"test": "rulstm/test_timestamps.csv"}

    def subset_paths(self, data_dir: Path | None) -> dict[str, Path]:
        root = self._root(data_dir)
        return {k: root / v for k, v in SUBSET_FILES.items()}

    def fingerprint(self, data_dir: Path | None) -> str:
        base = super().fingerprint(data_dir)
        present = [p for p in self.subset_paths(data_dir).values() if p.is_file()]
        if not present:
            return base
        return f"{self.name}-" + digest({"base": base, "subsets": file_fingerprint(present)})

    CLASS_COLUMNS = {"verbs": ("id", "key"), "nouns": ("id", "key")}

    def action_texts(self, actions: parsing.ActionTable, verbs: list[str], nouns: list[str]) -> list[str]:
        return [epic_action_text(verbs[v], nouns[n]) for v, n in zip(actions.verb, actions.noun)]

    def subsets(self, data_dir: Path | None) -> tuple[dict[str, list[str]], dict[str, str]]:
        paths = self.subset_paths(data_dir)
        present = {name: parsing.read_id_list(path) for name, path in paths.items() if path.is_file()}
        if present:  # every listed id must be a validation segment: a list of another split is bad input
            val = self._paths(data_dir)["val"]
            known = {r.uid for r in parsing.read_rulstm_segments(val, numeric_ids=False)}
            for name, ids in present.items():
                unknown = [i for i in ids if i not in known]
                if unknown:
                    raise DataError(f"{paths[name]}: {len(unknown)} of its {len(ids)} ids are not segments of "
                                    f"{val.name} (e.g. {unknown[0]!r})")
        return present, {name: str(path) for name, path in paths.items()}
