"""EPIC-Kitchens-100: the real annotation files (skipped without them), the nine official
metrics on a hand-made example, and the files a test writes in the real formats."""
import os
from pathlib import Path

import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment
from benchmark.errors import DataError
from plugins.datasets.epic100 import EPIC100
from plugins.datasets.parsing import read_epic_actions, read_id_list
from plugins.metrics.ek100 import EK100_METRICS

DATA = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent"))
needs_data = pytest.mark.skipif(not (DATA / "epic100").is_dir(), reason="EPIC-100 annotation files not available")
METRICS = {m.name: m for m in EK100_METRICS}


@needs_data
def test_epic100_real_files_give_the_published_counts():
    data = EPIC100().load(DATA)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 67217, "val": 9668}
    assert len(data.unlabelled["test"]) == 13092
    c = data.classes
    assert (c.num_actions, len(c.verbs), len(c.nouns)) == (3806, 97, 300)
    assert len(set(c.action_noun.tolist())) == 293  # 293 of the 300 nouns occur in an action
    assert {k: len(v) for k, v in data.subsets.items()} == {
        "unseen": 1065, "tail_verbs": 1760, "tail_nouns": 1900, "tail_actions": 3105}
    # the unseen-participant segments are those of the official unseen participants
    unseen = set(read_id_list(DATA / "epic100/official/EPIC_100_unseen_participant_ids_validation.csv",
                              header="participant_id"))
    assert {s.uid for s in data.splits["val"] if s.video.split("_")[0] in unseen} == set(data.subsets["unseen"])
    assert c.action_texts[0] == "take <v> tap"
    # EPIC-100 names its segments; their targets keep the verb and noun of actions.csv
    s = data.splits["val"][0]
    assert s.uid == "P01_11_0" and (c.action_verb[s.target.action], c.action_noun[s.target.action]) == (
        s.target.verb, s.target.noun)


@needs_data
def test_epic55_test_videos_are_labelled_epic100_videos():
    """What `bench submit` warns about: every EPIC-55 seen-kitchen test video is an EPIC-100
    validation video; of the unseen-kitchen ones, 32 are validation and 22 training videos."""
    from plugins.datasets.epic55 import EPIC55, EPIC55_CHALLENGE

    ek55, ek100 = EPIC55().load(DATA), EPIC100().load(DATA)
    val, train = ({s.video for s in ek100.splits[k]} for k in ("val", "train"))
    seen, unseen = ({s.video for s in ek55.unlabelled[k]} for k in ("test_seen", "test_unseen"))
    assert len(ek55.unlabelled["test_seen"]) == 8047 and len(ek55.unlabelled["test_unseen"]) == 2929
    assert (len(seen), len(seen & val)) == (106, 106)
    assert (len(unseen), len(unseen & val), len(unseen & train)) == (54, 32, 22)
    assert "32 of the 54" in EPIC55_CHALLENGE.warning


def test_actions_csv_columns_are_found_by_name(tmp_path):
    ek55 = tmp_path / "a55.csv"
    ek55.write_text("id,action,verb,noun\n0,take_tap,0,0\n1,put_cup,1,2\n")
    ek100 = tmp_path / "a100.csv"
    ek100.write_text("id,verb,noun,action\n0,0,0,take tap\n1,1,2,put cup\n")
    for path in (ek55, ek100):
        table = read_epic_actions(path)
        assert (table.verb, table.noun) == ([0, 1], [0, 2])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,verb,noun\n0,0,0\n")
    with pytest.raises(DataError, match=r"bad.csv:1: expected the columns id, action, verb and noun"):
        read_epic_actions(bad)


def _example(subsets=None, sources=None):
    """8 actions over 7 verbs and 7 nouns; action 7 is (verb 6, noun 0)."""
    cls = ClassSpace([f"a{i}" for i in range(8)], [f"v{i}" for i in range(7)], [f"n{i}" for i in range(7)],
                     np.array([0, 1, 2, 3, 4, 5, 6, 6]), np.array([0, 1, 2, 3, 4, 5, 6, 0]))
    targets = np.array([0, 0, 1, 7, 7, 3])
    val = [Sample(f"s{i}", "v", Segment(f"s{i}", "v", 1.0, 2.0, int(a), int(cls.action_verb[a]),
                                        int(cls.action_noun[a])), 0.0, ()) for i, a in enumerate(targets)]
    if subsets is None:
        subsets = {"unseen": ["s3", "s5"], "tail_actions": ["s3", "s4"], "tail_verbs": ["s3"],
                   "tail_nouns": ["s2", "s5"]}
    sources = sources or {k: f"/data/{k}.csv" for k in ("unseen", "tail_verbs", "tail_nouns", "tail_actions")}
    data = AnticipationData("ek", "real", cls, {"val": val}, {}, 1, 1.0, "f", subsets=subsets, subset_sources=sources)
    # every row ranks the actions 0 > 1 > ... > 7 (top-5: 0-4) except row 4, which ranks them
    # 7 > 6 > ... > 0 (top-5: 3-7)
    scores = np.tile(np.arange(8, 0, -1, dtype=np.float64), (6, 1))
    scores[4] = np.arange(1, 9)
    return scores, targets, data


def test_the_nine_official_metrics_on_a_hand_made_example():
    """Worked by hand. Action hits: rows 0, 1, 2, 4, 5 (row 3's action 7 is outside 0-4).
    Verbs: softmax marginalised, row 0's verb 6 gets e^2 + e^1 < e^3, so its top-5 verbs are
    0-4; row 4's are 6, 5, 4, 3, 2: the verb hits are the action hits. Nouns: action 7 has
    noun 0, the top noun of every row: every noun is a hit."""
    scores, targets, data = _example()

    def value(name):
        return METRICS[name]().compute(scores, targets, data)

    # overall action: classes 0 (2/2), 1 (1/1), 3 (1/1), 7 (1/2) -> (1 + 1 + 1 + 0.5) / 4
    assert value("mt5r_action_overall") == pytest.approx(87.5)
    # unseen rows 3 and 5: class 7 (0/1), class 3 (1/1)
    assert value("mt5r_action_unseen") == pytest.approx(50.0)
    # tail-action rows 3 and 4: class 7 (1/2)
    assert value("mt5r_action_tail") == pytest.approx(50.0)
    # verbs 0 (2/2), 1 (1/1), 3 (1/1), 6 (1/2)
    assert value("mt5r_verb_overall") == pytest.approx(87.5)
    assert value("mt5r_verb_unseen") == pytest.approx(50.0)  # verb 6 (0/1), verb 3 (1/1)
    assert value("mt5r_verb_tail") == pytest.approx(0.0)  # tail-verb row 3 only: verb 6 missed
    assert value("mt5r_noun_overall") == pytest.approx(100.0)
    assert value("mt5r_noun_unseen") == pytest.approx(100.0)
    assert value("mt5r_noun_tail") == pytest.approx(100.0)


def _reference_mt5r(scores, labels, mask):
    """Class-mean top-5 recall written out sample by sample: for each class of the subset's
    labels, the share of its samples whose label is among the five highest scores."""
    hits, counts = {}, {}
    for row, label, keep in zip(scores, labels, mask):
        if not keep:
            continue
        top = sorted(range(len(row)), key=lambda j: -row[j])[:5]
        counts[label] = counts.get(label, 0) + 1
        hits[label] = hits.get(label, 0) + (label in top)
    return 100.0 * sum(hits[c] / counts[c] for c in counts) / len(counts)


def test_the_metrics_match_a_sample_by_sample_reference_on_random_scores():
    rng = np.random.default_rng(3)
    n, cls = 60, ClassSpace([f"a{i}" for i in range(30)], [f"v{i}" for i in range(8)], [f"n{i}" for i in range(9)],
                            rng.integers(0, 8, 30), rng.integers(0, 9, 30))
    targets = rng.integers(0, 30, n)
    val = [Sample(f"s{i}", "v", Segment(f"s{i}", "v", 1.0, 2.0, int(a), int(cls.action_verb[a]),
                                        int(cls.action_noun[a])), 0.0, ()) for i, a in enumerate(targets)]
    subsets = {name: [f"s{i}" for i in rng.choice(n, 20, replace=False)]
               for name in ("unseen", "tail_verbs", "tail_nouns", "tail_actions")}
    data = AnticipationData("ek", "real", cls, {"val": val}, {}, 1, 1.0, "f", subsets=subsets,
                            subset_sources={k: k for k in subsets})
    scores = rng.standard_normal((n, 30))
    p = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    by_level = {"action": (p, targets),
                "verb": (np.stack([[p[i, cls.action_verb == v].sum() for v in range(8)] for i in range(n)]),
                         cls.action_verb[targets]),
                "noun": (np.stack([[p[i, cls.action_noun == k].sum() for k in range(9)] for i in range(n)]),
                         cls.action_noun[targets])}
    uids = [s.uid for s in val]
    for level, (level_scores, labels) in by_level.items():
        for subset, name in (("overall", None), ("unseen", "unseen"), ("tail", f"tail_{level}s")):
            mask = [True] * n if name is None else [u in set(subsets[name]) for u in uids]
            expected = _reference_mt5r(level_scores, labels, mask)
            got = METRICS[f"mt5r_{level}_{subset}"]().compute(scores, targets, data)
            assert got == pytest.approx(expected), (level, subset)


def test_a_metric_whose_subset_list_is_missing_names_the_file():
    scores, targets, data = _example(subsets={"tail_verbs": ["s3"]})
    with pytest.raises(DataError, match=r"/data/unseen.csv: file not found; metric mt5r_action_unseen"):
        METRICS["mt5r_action_unseen"]().compute(scores, targets, data)
    finding = METRICS["mt5r_noun_tail"]().requirement(data)
    assert finding.level == "error" and "/data/tail_nouns.csv" in finding.message
    assert METRICS["mt5r_verb_tail"]().requirement(data).level == "ok"
    assert METRICS["mt5r_action_overall"]().compute(scores, targets, data) == pytest.approx(87.5)
    # a dataset without EPIC-100's subsets gets a blank, with a warning from `bench data doctor`
    scores, targets, other = _example(subsets={}, sources={})
    other.subset_sources = {}
    assert np.isnan(METRICS["mt5r_action_overall"]().compute(scores, targets, other))
    assert METRICS["mt5r_action_overall"]().requirement(other).level == "warning"
