"""Mean top-5 recall over the many-shot classes of EPIC-Kitchens-55 (the class-aware metric of
Furnari & Farinella, RULSTM, ICCV 2019, used by AVT and by the EPIC-55 tables that cite them).

The recall of each listed class present in the validation targets is averaged, as RULSTM's
``utils.topk_recall`` does (``np.intersect1d`` of the list and the labels). Datasets without a
many-shot list (``data.info["many_shot"]``) get NaN, shown blank."""
from __future__ import annotations

import numpy as np

from benchmark.api import AnticipationData, Metric
from benchmark.checks import Finding
from benchmark.scoring import topk_correct

from .accuracy import marginalise


def mean_topk_recall(scores: np.ndarray, targets: np.ndarray, classes: list[int] | np.ndarray, k: int = 5) -> float:
    """Mean over ``classes`` present in ``targets`` of the fraction of their samples whose class
    is among the top-k scores."""
    hit = topk_correct(scores, targets, k)
    present = [c for c in classes if np.any(targets == c)]
    if not present:
        return float("nan")
    return float(np.mean([hit[targets == c].mean() for c in present]) * 100.0)


class _ManyShotRecall(Metric):
    level = "actions"
    #: the key of ``data.info["many_shot"]`` holding the class list
    key = "actions"

    def compute(self, scores, targets, data: AnticipationData):
        many_shot = (data.info or {}).get("many_shot")
        if not many_shot:
            return float("nan")
        cls = data.classes
        if self.level == "verbs":
            scores, targets = marginalise(scores, cls.action_verb, len(cls.verbs)), cls.action_verb[targets]
        elif self.level == "nouns":
            scores, targets = marginalise(scores, cls.action_noun, len(cls.nouns)), cls.action_noun[targets]
        if self.key not in many_shot:
            return float("nan")
        return mean_topk_recall(scores, targets, many_shot[self.key], 5)

    def requirement(self, data: AnticipationData) -> Finding:
        many_shot = (data.info or {}).get("many_shot")
        if many_shot is None:
            return Finding("warning", f"{data.name} has no many-shot class lists: {self.name} is left blank")
        listed = many_shot.get(self.key) or []
        if not listed:
            return Finding("error", f"{data.name}: its many-shot '{self.key}' list is absent or empty: "
                                    f"{self.name} would be undefined")
        cls = data.classes
        targets = np.array([s.target.action for s in data.splits["val"]], dtype=np.int64)
        if self.level == "verbs":
            targets = cls.action_verb[targets]
        elif self.level == "nouns":
            targets = cls.action_noun[targets]
        present = int(np.isin(np.asarray(listed), targets).sum())
        if not present:
            return Finding("error", f"{data.name}: none of its {len(listed)} many-shot {self.key} occurs in the "
                                    f"validation split: {self.name} would be undefined")
        return Finding("ok", f"{len(listed)} many-shot {self.key}, {present} of them in the validation split")


class ManyShotRecallAction(_ManyShotRecall):
    """RULSTM's and AVT's action-level figure (``main.py``/``get_many_shot``,
    ``datasets/epic_kitchens.py``): an action is many-shot when its verb or its noun is
    (883 classes present in EPIC-55 val)."""

    name = "many_shot_mt5r_action"
    #: 2: RULSTM's verb-or-noun list instead of the official pairs (now ``..._official``)
    version = "2"
    description = "mean top-5 recall over EPIC-55 many-shot actions (verb or noun many-shot, as RULSTM/AVT)"
    level = "actions"
    key = "actions"


class ManyShotRecallActionOfficial(_ManyShotRecall):
    """Over the pairs of the official ``EPIC_many_shot_actions.csv`` (451 classes present in
    EPIC-55 val), as the distillation paper's teacher notebook (StonyBrookNLP
    action-anticipation-lmtovideo) computes it; not comparable with RULSTM/AVT tables."""

    name = "many_shot_mt5r_action_official"
    description = "mean top-5 recall over the official EPIC-55 many-shot action pairs"
    level = "actions"
    key = "actions_official"


class ManyShotRecallVerb(_ManyShotRecall):
    """``EPIC_many_shot_verbs.csv`` on verb scores marginalised from the action scores (RULSTM
    scores its verb head directly; marginalising is how an action-only model gets one)."""

    name = "many_shot_mt5r_verb"
    description = "mean top-5 recall over EPIC-55 many-shot verbs (marginalised)"
    level = "verbs"
    key = "verbs"


class ManyShotRecallNoun(_ManyShotRecall):
    """``EPIC_many_shot_nouns.csv``, marginalised as the verb variant."""

    name = "many_shot_mt5r_noun"
    description = "mean top-5 recall over EPIC-55 many-shot nouns (marginalised)"
    level = "nouns"
    key = "nouns"


RECALL_METRICS = (ManyShotRecallAction, ManyShotRecallActionOfficial, ManyShotRecallVerb, ManyShotRecallNoun)
