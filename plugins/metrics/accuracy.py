"""Accuracy metrics of the anticipation literature, in percent.

Verb and noun scores come from the action scores by marginalising the action softmax over
the actions of each verb (noun), as RULSTM does.
"""
from __future__ import annotations

import numpy as np

from benchmark.api import AnticipationData, Metric
from benchmark.scoring import topk_correct


def class_mean(correct: np.ndarray, targets: np.ndarray) -> float:
    """Mean over the classes present in ``targets`` of the per-class accuracy."""
    classes = np.unique(targets)
    if classes.size == 0:
        return float("nan")
    return float(np.mean([correct[targets == c].mean() for c in classes]) * 100.0)


def marginalise(scores: np.ndarray, mapping: np.ndarray, size: int) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    out = np.zeros((scores.shape[0], size), dtype=np.float64)
    np.add.at(out.T, mapping, p.T)
    return out


class TopKAction(Metric):
    k = 1

    def compute(self, scores, targets, data):
        return float(topk_correct(scores, targets, self.k).mean() * 100.0)


class Top1Action(TopKAction):
    """Top-1 action accuracy: the EGTEA Gaze+ metric of AVT (Girdhar & Grauman, ICCV 2021) and of
    the distillation paper's EGTEA table (the authors' ``logit_analysis.ipynb``)."""

    name = "top1_action"
    description = "top-1 accuracy of the next action"
    k = 1


class Top5Action(TopKAction):
    """Top-5 action accuracy at tau_a = 1 s: the EPIC-Kitchens-55 metric of RULSTM (``main.py``,
    ``topk_accuracy``), AVT and the distillation paper's EPIC-55 result."""

    name = "top5_action"
    description = "top-5 accuracy of the next action"
    k = 5


class MeanClassTop1Action(Metric):
    """Class-mean top-1 (mean per-class recall over the classes present): AVT's EGTEA
    "mean class accuracy" column and the authors' notebook."""

    name = "mean_class_top1_action"
    description = "class-mean top-1 accuracy (mean per-class recall) of the next action"

    def compute(self, scores, targets, data):
        return class_mean(topk_correct(scores, targets, 1), targets)


class Top1Verb(Metric):
    """Top-1 verb accuracy from marginalised action scores (RULSTM reports verb and noun
    accuracies from its own heads; marginalising is how an action-only model gets them)."""

    name = "top1_verb"
    description = "top-1 accuracy of the next verb (marginalised action scores)"

    def compute(self, scores, targets, data: AnticipationData):
        cls = data.classes
        verb_scores = marginalise(scores, cls.action_verb, len(cls.verbs))
        return float(topk_correct(verb_scores, cls.action_verb[targets], 1).mean() * 100.0)


class Top1Noun(Metric):
    """Top-1 noun accuracy, marginalised as :class:`Top1Verb`."""

    name = "top1_noun"
    description = "top-1 accuracy of the next noun (marginalised action scores)"

    def compute(self, scores, targets, data: AnticipationData):
        cls = data.classes
        noun_scores = marginalise(scores, cls.action_noun, len(cls.nouns))
        return float(topk_correct(noun_scores, cls.action_noun[targets], 1).mean() * 100.0)


METRICS = (Top1Action, Top5Action, MeanClassTop1Action, Top1Verb, Top1Noun)
