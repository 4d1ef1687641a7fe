"""The official EPIC-Kitchens-100 anticipation metric: class-mean top-5 recall of the verb, the
noun and the action, each on all validation segments (``overall``), on the segments of
participants unseen in training (``unseen``) and on the segments of tail classes (``tail``),
as RULSTM's EK100 evaluation computes them (``main.py`` with the tail and unseen id lists).

On a subset, the recall of every class present among the subset's targets is averaged (RULSTM's
``topk_recall`` without a class list). The tail subset of a level is the segment list of that
level (``validation_tail_verbs_ids.csv`` for the verb...). Verb and noun scores are the action
softmax marginalised over the actions of each verb (noun), as RULSTM does for its action-only
models. Overall action recall is the primary metric of the EPIC-100 leaderboards.
"""
from __future__ import annotations

import numpy as np

from benchmark.api import AnticipationData, Metric
from benchmark.checks import Finding
from benchmark.errors import DataError

from .accuracy import marginalise
from .recall import mean_topk_recall

LEVELS = ("verb", "noun", "action")
SUBSETS = ("overall", "unseen", "tail")


def subset_name(level: str, subset: str) -> str:
    """The dataset subset a (level, subset) pair scores on; '' for all segments."""
    return {"overall": "", "unseen": "unseen", "tail": f"tail_{level}s"}[subset]


def level_scores(scores: np.ndarray, targets: np.ndarray, data: AnticipationData,
                 level: str) -> tuple[np.ndarray, np.ndarray]:
    cls = data.classes
    if level == "verb":
        return marginalise(scores, cls.action_verb, len(cls.verbs)), cls.action_verb[targets]
    if level == "noun":
        return marginalise(scores, cls.action_noun, len(cls.nouns)), cls.action_noun[targets]
    return scores, targets


def subset_mask(data: AnticipationData, name: str, metric: str) -> np.ndarray:
    """Which validation samples are in subset ``name``; a missing list is an error naming its file."""
    uids = [s.uid for s in data.splits["val"]]
    if not name:
        return np.ones(len(uids), dtype=bool)
    if name not in data.subsets:
        source = data.subset_sources.get(name)
        where = f"{source}: file not found" if source else f"{data.name} has no subset {name!r}"
        raise DataError(f"{where}; metric {metric} needs its list of segment ids "
                        f"(run `bench data download {data.name}`)")
    listed = set(data.subsets[name])
    return np.fromiter((u in listed for u in uids), dtype=bool, count=len(uids))


class _EK100Recall(Metric):
    level = "action"
    subset = "overall"

    def compute(self, scores, targets, data: AnticipationData):
        if not data.subset_sources:  # a dataset without EPIC-100's subsets: left blank
            return float("nan")
        mask = subset_mask(data, subset_name(self.level, self.subset), self.name)
        level_s, level_t = level_scores(scores, targets, data, self.level)
        return mean_topk_recall(level_s[mask], level_t[mask], np.unique(level_t[mask]), 5)

    def requirement(self, data: AnticipationData) -> Finding:
        if not data.subset_sources:
            return Finding("warning", f"{data.name} has no EPIC-100 subsets: {self.name} is left blank")
        name = subset_name(self.level, self.subset)
        try:
            mask = subset_mask(data, name, self.name)
        except DataError as exc:
            return Finding("error", str(exc))
        if not mask.any():
            return Finding("error", f"{data.name}: no validation segment is in subset {name!r}: "
                                    f"{self.name} would be undefined")
        return Finding("ok", f"{int(mask.sum())} validation segments")


def _metric(level: str, subset: str) -> type[Metric]:
    what = {"overall": "all validation segments", "unseen": "unseen-participant segments",
            "tail": f"tail-{level} segments"}[subset]
    return type(f"MeanTop5Recall{level.title()}{subset.title()}", (_EK100Recall,), {
        "__doc__": f"EPIC-100 class-mean top-5 recall of the {level}, {what}.",
        "__module__": __name__,
        "name": f"mt5r_{level}_{subset}",
        "description": f"EPIC-100 mean top-5 recall, {level}, {what}"
                       + ("" if level == "action" else " (marginalised)"),
        "level": level,
        "subset": subset,
    })


#: the nine named metrics, ``mt5r_<verb|noun|action>_<overall|unseen|tail>``
EK100_METRICS = tuple(_metric(level, subset) for subset in SUBSETS for level in LEVELS)
