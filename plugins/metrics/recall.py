"""Mean top-5 recall over the many-shot classes of EPIC-Kitchens-55 (RULSTM's class-aware
metric). Datasets without a many-shot list (``data.info["many_shot"]``) get NaN, shown blank."""
from __future__ import annotations

import numpy as np

from benchmark.api import AnticipationData, Metric

from .accuracy import marginalise, topk_correct


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

    def compute(self, scores, targets, data: AnticipationData):
        many_shot = (data.info or {}).get("many_shot")
        if not many_shot:
            return float("nan")
        cls = data.classes
        if self.level == "verbs":
            scores, targets = marginalise(scores, cls.action_verb, len(cls.verbs)), cls.action_verb[targets]
        elif self.level == "nouns":
            scores, targets = marginalise(scores, cls.action_noun, len(cls.nouns)), cls.action_noun[targets]
        return mean_topk_recall(scores, targets, many_shot[self.level], 5)


class ManyShotRecallAction(_ManyShotRecall):
    name = "many_shot_mt5r_action"
    description = "mean top-5 recall over EPIC-55 many-shot actions"
    level = "actions"


class ManyShotRecallVerb(_ManyShotRecall):
    name = "many_shot_mt5r_verb"
    description = "mean top-5 recall over EPIC-55 many-shot verbs (marginalised)"
    level = "verbs"


class ManyShotRecallNoun(_ManyShotRecall):
    name = "many_shot_mt5r_noun"
    description = "mean top-5 recall over EPIC-55 many-shot nouns (marginalised)"
    level = "nouns"


RECALL_METRICS = (ManyShotRecallAction, ManyShotRecallVerb, ManyShotRecallNoun)
