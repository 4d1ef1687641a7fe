import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace
from plugins.metrics.accuracy import MeanClassTop1Action, Top1Action, Top1Verb, Top5Action


def data():
    cls = ClassSpace(["a0", "a1", "a2"], ["v0", "v1"], ["n0", "n1", "n2"],
                     np.array([0, 0, 1]), np.array([0, 1, 2]))
    return AnticipationData("t", "synthetic", cls, {}, {}, 1, 1.0, "f")


def test_accuracy_metrics_by_hand():
    scores = np.array([[3, 2, 1], [3, 2, 1], [1, 3, 2], [1, 2, 3.0]])
    targets = np.array([0, 1, 1, 0])
    d = data()
    assert Top1Action().compute(scores, targets, d) == 50.0
    assert Top5Action().compute(scores, targets, d) == 100.0  # k is clipped to the class count
    # class 0: 1 of 2 right, class 1: 1 of 2 right
    assert MeanClassTop1Action().compute(scores, targets, d) == 50.0
    # class-mean differs from top-1 when classes are unbalanced
    t2 = np.array([0, 0, 0, 1])
    s2 = np.array([[3, 1, 0], [3, 1, 0], [3, 1, 0], [3, 1, 0.0]])
    assert Top1Action().compute(s2, t2, d) == 75.0
    assert MeanClassTop1Action().compute(s2, t2, d) == 50.0


def test_verb_accuracy_marginalises_actions():
    # actions 0 and 1 share verb 0; together they outweigh action 2 (verb 1)
    scores = np.log(np.array([[0.35, 0.35, 0.30]]))
    d = data()
    assert Top1Verb().compute(scores, np.array([1]), d) == 100.0  # action 1 -> verb 0 is predicted
    assert Top1Action().compute(scores, np.array([2]), d) == 0.0


def test_many_shot_mean_top5_recall_by_hand():
    from plugins.metrics.recall import ManyShotRecallAction, ManyShotRecallVerb, mean_topk_recall

    # 7 classes; top-5 of every row are classes 0..4
    scores = np.tile(np.array([7, 6, 5, 4, 3, 2, 1.0]), (5, 1))
    targets = np.array([0, 0, 5, 6, 6])
    # many-shot {0, 5}: class 0 recall 1.0, class 5 recall 0.0 -> 50; class 3 absent is skipped
    assert mean_topk_recall(scores, targets, [0, 5, 3]) == 50.0
    d = data()
    d.info["many_shot"] = {"actions": [0, 2], "verbs": [0], "nouns": [2]}
    s3 = np.log(np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]))
    assert ManyShotRecallAction().compute(s3, np.array([0, 2]), d) == 100.0  # k=5 covers all 3
    assert ManyShotRecallVerb().compute(s3, np.array([0, 1]), d) == 100.0
    d.info = {}
    assert np.isnan(ManyShotRecallAction().compute(s3, np.array([0, 2]), d))


def test_many_shot_actions_are_verb_or_noun_many_shot_unlike_the_official_pairs():
    from plugins.datasets.epic55 import many_shot_actions
    from plugins.metrics.recall import ManyShotRecallAction, ManyShotRecallActionOfficial

    # actions (verb, noun): a0 (0,0) a1 (0,1) a2 (1,1) a3 (1,2) a4 (2,2) a5 (2,1) a6 (3,3)
    cls = ClassSpace([f"a{i}" for i in range(7)], ["v0", "v1", "v2", "v3"], ["n0", "n1", "n2", "n3"],
                     np.array([0, 0, 1, 1, 2, 2, 3]), np.array([0, 1, 1, 2, 2, 1, 3]))
    # many-shot verb 0 and noun 1: a0, a1 by their verb, a2, a5 by their noun
    assert many_shot_actions(cls, [0], [1]) == [0, 1, 2, 5]
    d = AnticipationData("t", "real", cls, {}, {}, 1, 1.0, "f")
    d.info["many_shot"] = {"actions": [0, 1, 2, 5], "actions_official": [0, 6], "verbs": [0], "nouns": [1]}
    scores = np.tile(np.array([7, 6, 5, 4, 3, 2, 1.0]), (6, 1))  # top-5: a0..a4
    targets = np.array([0, 2, 5, 5, 6, 3])
    # verb-or-noun list present in the targets: a0 (hit), a2 (hit), a5 (miss); a1 is absent
    assert ManyShotRecallAction().compute(scores, targets, d) == pytest.approx(200 / 3)
    # official pairs: a0 (hit), a6 (miss)
    assert ManyShotRecallActionOfficial().compute(scores, targets, d) == 50.0
