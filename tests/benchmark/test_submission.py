"""The challenge layout: building, validating (one broken key at a time), fusing."""
import copy

import numpy as np
import pytest

from benchmark.api import ClassSpace
from benchmark.errors import DataError
from benchmark.submission import ChallengeFormat, SupervisionLevels, build, fuse, softmax, validate

CLASSES = ClassSpace([f"a{i}" for i in range(6)], ["v0", "v1", "v2"], ["n0", "n1", "n2", "n3"],
                     np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 2, 3, 0]))
EK100 = ChallengeFormat(version="0.2", files={"test": "test.json"}, supervision_levels=True, top_actions=4)
EK55 = ChallengeFormat(version="0.1", files={"test_seen": "seen.json"}, top_actions=4)
UIDS = ["P01_101_0", "P01_101_1"]


def _obj(fmt=EK100):
    probs = softmax(np.array([[5.0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 4, 5.0]]))
    return probs, build(probs, UIDS, CLASSES, fmt, SupervisionLevels(1, 4, 3) if fmt.supervision_levels else None)


def test_built_file_has_the_layout_and_the_marginalised_scores():
    probs, obj = _obj()
    assert (obj["version"], obj["challenge"], obj["sls_pt"], obj["sls_tl"], obj["sls_td"]) == (
        "0.2", "action_anticipation", 1, 4, 3)
    first = obj["results"]["P01_101_0"]
    assert set(first["verb"]) == {"0", "1", "2"} and set(first["noun"]) == {"0", "1", "2", "3"}
    # verb 0 = actions 0 and 1; noun 0 = actions 0 and 5
    assert first["verb"]["0"] == pytest.approx(probs[0, 0] + probs[0, 1])
    assert first["noun"]["0"] == pytest.approx(probs[0, 0] + probs[0, 5])
    # the top 4 actions of row 0 are 0, 4, 3, 2, keyed "verb,noun"
    assert list(first["action"]) == ["0,0", "2,3", "1,2", "1,1"]
    assert first["action"]["2,3"] == pytest.approx(probs[0, 4])
    validate(obj, EK100, UIDS, CLASSES, "test.json")
    _, ek55 = _obj(EK55)
    assert "sls_pt" not in ek55 and ek55["version"] == "0.1"
    validate(ek55, EK55, UIDS, CLASSES, "seen.json")


def _broken():
    yield "version", lambda o: o.update(version="0.1")
    yield "sls_tl", lambda o: o.update(sls_tl=7)
    yield "sls_pt", lambda o: o.pop("sls_pt")
    yield "results", lambda o: o["results"].pop("P01_101_1")
    yield "results.P99", lambda o: o["results"].update(P99=o["results"]["P01_101_0"])
    yield "results.P01_101_0.verb", lambda o: o["results"]["P01_101_0"]["verb"].pop("2")
    yield "results.P01_101_0.action", lambda o: o["results"]["P01_101_0"]["action"].pop("0,0")
    yield "results.P01_101_0.action.9,9", lambda o: o["results"]["P01_101_0"]["action"].update(
        {"9,9": 0.1}) or o["results"]["P01_101_0"]["action"].pop("0,0")
    yield "results.P01_101_1.noun.1", lambda o: o["results"]["P01_101_1"]["noun"].update({"1": float("nan")})
    yield "extra", lambda o: o.update(extra=1)


@pytest.mark.parametrize("key, breaks", list(_broken()), ids=[k for k, _ in _broken()])
def test_an_invalid_file_is_rejected_naming_the_key(key, breaks):
    _, obj = _obj()
    bad = copy.deepcopy(obj)
    breaks(bad)
    with pytest.raises(DataError, match=rf"test.json: key '{key}'"):
        validate(bad, EK100, UIDS, CLASSES, "test.json")


def test_ek55_files_carry_no_supervision_levels():
    _, obj = _obj()
    with pytest.raises(DataError, match="key 'version'"):
        validate(obj, EK55, UIDS, CLASSES, "seen.json")
    _, ek55 = _obj(EK55)
    ek55["sls_pt"] = 1
    with pytest.raises(DataError, match="key 'sls_pt': expected no supervision levels"):
        validate(ek55, EK55, UIDS, CLASSES, "seen.json")


def test_fusion_is_the_weighted_mean_of_the_softmax():
    a, b = np.array([[2.0, 0.0, 1.0]]), np.array([[0.0, 3.0, 1.0]])
    fused = fuse([a, b], [3.0, 1.0])
    expected = 0.75 * np.exp(a) / np.exp(a).sum() + 0.25 * np.exp(b) / np.exp(b).sum()
    assert fused == pytest.approx(expected)
    assert fuse([a], [1.0]) == pytest.approx(np.exp(a) / np.exp(a).sum())
    with pytest.raises(DataError, match="weights must be non-negative"):
        fuse([a, b], [1.0, -1.0])
    with pytest.raises(DataError, match="different shapes"):
        fuse([a, np.zeros((2, 3))], [1.0, 1.0])


def test_supervision_levels_are_checked():
    with pytest.raises(DataError, match="sls_td: expected an integer from 0 to 5, got 6"):
        SupervisionLevels(1, 4, 6)
