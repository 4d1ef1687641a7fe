"""The n-gram reference teacher: exact on deterministic sequences, normalised, backs off."""
import os
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment
from benchmark.config import build_config
from benchmark.errors import ConfigError
from benchmark.scoring import topk_correct
from plugins.metrics.accuracy import class_mean
from plugins.teachers.ngram import NGramConfig, NGramTeacher

DATA = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent"))


def samples(videos: dict[str, list[int]], first: int = 1) -> list[Sample]:
    """One sample per segment from the ``first``-th on; the history is every earlier action."""
    out = []
    for video, acts in videos.items():
        for i in range(first, len(acts)):
            seg = Segment(f"{video}-{i}", video, float(i), i + 0.5, acts[i], acts[i], 0)
            out.append(Sample(seg.uid, video, seg, seg.start - 0.5, tuple(acts[:i])))
    return out


def make_data(train: dict[str, list[int]], val: dict[str, list[int]], n: int = 6) -> AnticipationData:
    cls = ClassSpace([f"a{i}" for i in range(n)], [f"v{i}" for i in range(n)], ["n0"],
                     np.arange(n), np.zeros(n, dtype=np.int64))
    return AnticipationData("tiny", "synthetic", cls, {"train": samples(train), "val": samples(val)}, {}, 1, 1.0, "f")


def fitted(data: AnticipationData, **config) -> NGramTeacher:
    teacher = NGramTeacher(NGramConfig(**config))
    teacher.fit(data, None, 0)
    return teacher


def targets(data: AnticipationData, split: str) -> np.ndarray:
    return np.array([s.target.action for s in data.splits[split]])


# 0 0 1 0 0 1 ...: the next action is fixed by the last two, not by the last one
PATTERN = {f"v{k}": [0, 0, 1] * 6 for k in range(3)}


def test_registered(plugins):
    assert plugins.get("teacher", "ngram") is NGramTeacher


def test_deterministic_pattern_is_predicted_exactly_with_enough_order():
    data = make_data(PATTERN, {"w": [0, 0, 1] * 4})
    y = targets(data, "val")
    tri = fitted(data, order=3).predict(data, "val", None).logits
    assert tri.shape == (len(y), 6) and tri.dtype == np.float32
    assert topk_correct(tri, y, 1).mean() == 1.0
    bi = fitted(data, order=2).predict(data, "val", None).logits
    assert topk_correct(bi, y, 1).mean() < 1.0  # after a 0, a bigram cannot tell 0 from 1


def test_rows_are_normalised_and_every_class_is_possible():
    data = make_data(PATTERN, {"w": [0, 0, 1, 5, 4, 0]})
    for order in (1, 2, 3, 4):
        for split in ("train", "val"):
            logits = fitted(data, order=order).predict(data, split, None).logits
            p = np.exp(logits.astype(np.float64))
            assert np.all(np.isfinite(logits)) and np.all(p > 0)
            np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_unseen_contexts_back_off_to_shorter_ones():
    data = make_data(PATTERN, {"w": [5, 0, 1, 4, 3]})  # contexts (5, 0), (0, 1), (1, 4), (4, 3)
    tri, bi, uni = (fitted(data, order=k) for k in (3, 2, 1))
    start = data.classes.num_actions
    # (5, 0) never seen, (0,) seen: the trigram row is the bigram row of (0,)
    np.testing.assert_allclose(tri.probabilities((5, 0)), bi.probabilities((0,)))
    # (1, 4) and (4,) never seen: the unigram, i.e. the training target frequencies plus uniform mass
    np.testing.assert_allclose(tri.probabilities((1, 4)), uni.probabilities(()))
    freq = np.bincount(targets(data, "train"), minlength=6) / len(data.splits["train"])
    np.testing.assert_allclose(uni.probabilities(()), (1 - 1e-3) * freq + 1e-3 / 6)
    # a seen context keeps the discounted mass and passes gamma * lower order on
    p = tri.probabilities((0, 0))
    assert p.argmax() == 1 and p[1] > 0.9 and p[0] < 0.1
    # missing history is padded with the start symbol: an empty history is context (start, start)
    logits = tri.predict(make_data(PATTERN, {"w": [0, 0]}), "val", None).logits  # history (0,)
    np.testing.assert_allclose(np.exp(logits[0]), tri.probabilities((start, 0)), rtol=1e-5)


def test_config_is_checked():
    for key, value in (("order", 0), ("discount", 0.0), ("discount", 1.5), ("uniform_weight", 0.0)):
        with pytest.raises(ConfigError, match=key):
            build_config(NGramConfig, {key: value}, "components.teacher.ngram")


def test_fit_is_deterministic():
    data = make_data(PATTERN, {"w": [0, 0, 1, 5, 4, 0]})
    a = fitted(data).predict(data, "val", None).logits
    b = NGramTeacher()
    b.fit(data, None, 123)  # the seed changes nothing
    np.testing.assert_array_equal(a, b.predict(data, "val", None).logits)


@pytest.mark.skipif(not (DATA / "epic55").is_dir(), reason="EPIC-55 annotation files not available")
def test_epic55_validation_accuracy():
    from plugins.datasets.epic55 import EPIC55

    data = EPIC55().load(DATA)
    y = targets(data, "val")
    t0 = time.perf_counter()
    teacher = fitted(data, order=3)
    logits = teacher.predict(data, "val", None).logits
    train_logits = teacher.predict(data, "train", None).logits
    seconds = time.perf_counter() - t0
    assert logits.shape == (4979, 2513) and train_logits.shape == (23493, 2513)
    top1 = topk_correct(logits, y, 1)
    top5 = topk_correct(logits, y, 5).mean() * 100
    print(f"\nngram order 3 on EPIC-55 val: top-1 {top1.mean() * 100:.2f}, top-5 {top5:.2f}, "
          f"class-mean top-1 {class_mean(top1, y):.2f} (fit + predict train and val {seconds:.1f} s)")
    assert top5 > 20.0
    assert seconds < 60.0
