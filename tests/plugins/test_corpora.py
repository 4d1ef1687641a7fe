"""Pretraining corpora: validation text never enters (checked on the real annotation files)."""
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace
from benchmark.config import build_config
from benchmark.errors import ConfigError
from plugins.corpora.action_sequences import ActionSequencesConfig, ActionSequencesCorpus, windows
from plugins.corpora.narrations import NARRATIONS, EpicNarrationsCorpus
from plugins.corpora.text_file import TextFileConfig, TextFileCorpus
from plugins.datasets.egtea import EGTEA, EGTEAConfig
from plugins.datasets.epic55 import EPIC55
from plugins.datasets.parsing import read_epic_narrations

DATA = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent"))
needs_epic = pytest.mark.skipif(not (DATA / "epic55").is_dir(), reason="EPIC-55 annotation files not available")
needs_egtea = pytest.mark.skipif(not (DATA / "egtea").is_dir(), reason="EGTEA annotation files not available")


@pytest.fixture(scope="module")
def epic():
    if not (DATA / "epic55").is_dir():
        pytest.skip("EPIC-55 annotation files not available")
    return EPIC55().load(DATA)


def tiny() -> AnticipationData:
    cls = ClassSpace(["a0"], ["v0"], ["n0"], np.array([0]), np.array([0]))
    return AnticipationData("tiny", "synthetic", cls, {"train": [], "val": []}, {}, 1, 1.0, "f")


def actions_of(lines) -> list[str]:
    return [a for line in lines for a in line.split(" <a> ")]


def test_corpora_are_registered(plugins):
    assert {"action-sequences", "epic-narrations", "text-file"} <= set(plugins.registries["corpus"].names())


@pytest.mark.parametrize("n, size, stride", [(0, 4, 4), (1, 4, 4), (10, 4, 4), (8, 4, 4), (10, 4, 2), (10, 4, 1), (3, 4, 2)])
def test_windows_cover_every_item_and_stop_at_the_end(n, size, stride):
    spans = list(windows(n, size, stride))
    assert all(0 < e - s <= size for s, e in spans)
    assert set().union(*(range(s, e) for s, e in spans)) == set(range(n))
    assert not spans or spans[-1][1] == n and all(e < n for _, e in spans[:-1])
    if stride == size:
        assert sum(e - s for s, e in spans) == n  # no overlap


def test_sequence_configs_are_checked():
    with pytest.raises(ConfigError, match="max_actions"):
        build_config(ActionSequencesConfig, {"max_actions": 0}, "components.corpus.action-sequences")
    with pytest.raises(ConfigError, match="stride"):
        build_config(ActionSequencesConfig, {"max_actions": 4, "stride": 5}, "components.corpus.action-sequences")


def check_action_sequences(data: AnticipationData) -> None:
    lines = list(ActionSequencesCorpus().lines(data, DATA))
    train = Counter(data.classes.text(s.target.action) for s in data.splits["train"])
    # the corpus is exactly the training targets: not one validation segment more
    assert Counter(actions_of(lines)) == train
    assert all(len(line.split(" <a> ")) <= 32 for line in lines)
    # in order: per video (sorted by name), the training targets by start
    ordered = []
    for video in sorted({s.video for s in data.splits["train"]}):
        segs = sorted((s.target for s in data.splits["train"] if s.video == video), key=lambda t: (t.start, t.end))
        ordered += [data.classes.text(t.action) for t in segs]
    assert actions_of(lines) == ordered


@needs_egtea
@pytest.mark.parametrize("history_source", ["same-split", "all"])
def test_action_sequences_are_the_egtea_training_targets(history_source):
    data = EGTEA(EGTEAConfig(split=1, history_source=history_source)).load(DATA)
    check_action_sequences(data)
    # EGTEA's validation clips sit in training videos: their uids must not be read at all
    val_uids = {s.uid for s in data.splits["val"]}
    assert val_uids and not val_uids & {s.target.uid for s in data.splits["train"]}


@needs_epic
def test_action_sequences_are_the_epic_training_targets(epic):
    check_action_sequences(epic)


@needs_epic
def test_action_sequences_overlapping_windows(epic):
    lines = list(ActionSequencesCorpus(ActionSequencesConfig(max_actions=8, stride=4)).lines(epic, DATA))
    assert all(len(line.split(" <a> ")) <= 8 for line in lines)
    train = Counter(epic.classes.text(s.target.action) for s in epic.splits["train"])
    assert set(actions_of(lines)) == set(train)


@needs_epic
def test_epic_narrations_exclude_every_validation_video(epic):
    rows = read_epic_narrations(DATA / NARRATIONS)
    train_videos = {s.video for s in epic.splits["train"]}
    val_videos = {s.video for s in epic.splits["val"]}
    train_texts = Counter(" ".join(t.split()) for v, _, t in rows if v in train_videos and t.strip())
    val_only = {" ".join(t.split()) for v, _, t in rows if v in val_videos} - set(train_texts)
    assert val_videos and val_only  # the file does narrate the validation videos
    lines = list(EpicNarrationsCorpus().lines(epic, DATA))
    corpus = Counter(actions_of(lines))
    assert not val_only & set(corpus)
    assert corpus == train_texts  # every training narration, nothing else
    assert all(len(line.split(" <a> ")) <= 32 for line in lines)


@needs_epic
def test_epic_narrations_are_ordered_by_start(epic):
    rows = read_epic_narrations(DATA / NARRATIONS)
    video = sorted({s.video for s in epic.splits["train"]})[0]
    expected = [" ".join(t.split()) for _, _, t in sorted((s, i, t) for i, (v, s, t) in enumerate(rows) if v == video)]
    lines = list(EpicNarrationsCorpus().lines(epic, DATA))
    assert actions_of(lines)[:len(expected)] == expected


@needs_egtea
def test_epic_narrations_refuse_another_dataset():
    data = EGTEA().load(DATA)
    with pytest.raises(ValueError, match="epic55"):
        EpicNarrationsCorpus().lines(data, DATA)


def test_text_file_yields_stripped_non_empty_lines(tmp_path):
    path = tmp_path / "recipes.txt"
    path.write_text("  cut <v> onion <a> fry <v> onion \n\n   \nboil <v> water\n", encoding="utf-8")
    corpus = TextFileCorpus(TextFileConfig(path=str(path)))
    assert list(corpus.lines(tiny(), None)) == ["cut <v> onion <a> fry <v> onion", "boil <v> water"]


@pytest.mark.parametrize("path", ["", "does/not/exist.txt"])
def test_text_file_missing_path_is_a_config_error(path):
    with pytest.raises(ConfigError, match="text-file corpus: path .* not found"):
        TextFileCorpus(TextFileConfig(path=path)).lines(tiny(), None)
