"""Accuracy metrics of the anticipation literature, in percent.

Verb and noun scores come from the action scores by marginalising the action softmax over
the actions of each verb (noun), as RULSTM does.
"""
from __future__ import annotations

import numpy as np

from benchmark.api import AnticipationData, Metric


def topk_correct(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return (top == targets[:, None]).any(axis=1)


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
    name = "top1_action"
    description = "top-1 accuracy of the next action"
    k = 1


class Top5Action(TopKAction):
    name = "top5_action"
    description = "top-5 accuracy of the next action"
    k = 5


class MeanClassTop1Action(Metric):
    name = "mean_class_top1_action"
    description = "class-mean top-1 accuracy (mean per-class recall) of the next action"

    def compute(self, scores, targets, data):
        return class_mean(topk_correct(scores, targets, 1), targets)


class Top1Verb(Metric):
    name = "top1_verb"
    description = "top-1 accuracy of the next verb (marginalised action scores)"

    def compute(self, scores, targets, data: AnticipationData):
        cls = data.classes
        verb_scores = marginalise(scores, cls.action_verb, len(cls.verbs))
        return float(topk_correct(verb_scores, cls.action_verb[targets], 1).mean() * 100.0)


class Top1Noun(Metric):
    name = "top1_noun"
    description = "top-1 accuracy of the next noun (marginalised action scores)"

    def compute(self, scores, targets, data: AnticipationData):
        cls = data.classes
        noun_scores = marginalise(scores, cls.action_noun, len(cls.nouns))
        return float(topk_correct(noun_scores, cls.action_noun[targets], 1).mean() * 100.0)


METRICS = (Top1Action, Top5Action, MeanClassTop1Action, Top1Verb, Top1Noun)
