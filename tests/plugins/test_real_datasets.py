"""EPIC-Kitchens-55 and EGTEA Gaze+ on the real annotation files (skipped without them)."""
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.api import Segment
from benchmark.errors import ConfigError, DataError
from benchmark.config import build_config
from benchmark.protocol import frame_of, frames_of
from plugins.datasets.anticipation import build_samples, observation, order_timelines
from plugins.datasets.egtea import EGTEA, EGTEAConfig, egtea_action_text
from plugins.datasets.epic55 import EPIC55, EPIC55Config, authors_action_text, epic_action_text
from plugins.datasets.parsing import read_rulstm_segments

DATA = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent"))
needs_data = pytest.mark.skipif(not (DATA / "epic55").is_dir(), reason="annotation files not available")


@pytest.fixture(scope="module")
def epic():
    return EPIC55().load(DATA)


@pytest.fixture(scope="module")
def egtea():
    return EGTEA().load(DATA)


@needs_data
def test_epic55_counts_match_the_reference(epic):
    assert {k: len(v) for k, v in epic.splits.items()} == {"train": 23493, "val": 4979}
    assert len({s.video for s in epic.splits["train"]}) == 232
    assert len({s.video for s in epic.splits["val"]}) == 40
    assert (epic.classes.num_actions, len(epic.classes.verbs), len(epic.classes.nouns)) == (2513, 125, 352)
    assert len(epic.info["many_shot"]["verbs"]) == 26 and len(epic.info["many_shot"]["nouns"]) == 71
    assert len(epic.info["many_shot"]["actions_official"]) == 819
    # RULSTM/AVT's many-shot actions (verb or noun many-shot) present in val, against the official pairs
    present = {s.target.action for s in epic.splits["val"]}
    assert len(present & set(epic.info["many_shot"]["actions"])) == 883
    assert len(present & set(epic.info["many_shot"]["actions_official"])) == 451


@needs_data
@pytest.mark.parametrize("split, n_train, n_val", [(1, 8299, 2022), (2, 8299, 2022), (3, 8300, 2021)])
def test_egtea_counts_match_the_reference(split, n_train, n_val):
    data = EGTEA(EGTEAConfig(split=split)).load(DATA)
    assert (len(data.splits["train"]), len(data.splits["val"])) == (n_train, n_val)
    assert (data.classes.num_actions, len(data.classes.verbs), len(data.classes.nouns)) == (106, 19, 51)
    assert sum(len(t) for t in data.timelines.values()) == 10321


@needs_data
def test_sequences_are_ordered_and_histories_are_strictly_past(epic, egtea):
    for data in (epic, egtea):
        for segs in data.timelines.values():
            assert all((a.start, a.end) <= (b.start, b.end) for a, b in zip(segs, segs[1:]))
        for split, samples in data.splits.items():
            for s in samples[::7]:
                past = [seg for seg in data.timelines[s.video] if seg.start < s.target.start]
                assert len(s.history) <= (5 if data.name == "epic55" else 15)
                assert s.obs_end == pytest.approx(s.target.start - (1.0 if data.name == "epic55" else 0.5))
                if data.name == "epic55":  # disjoint videos: the history is the video's past
                    assert s.history == tuple(seg.action for seg in past)[-5:]


@needs_data
def test_egtea_same_split_history_never_holds_a_validation_label(egtea):
    val_uids = {s.uid for s in egtea.splits["val"]}
    train_by_video = order_timelines([s.target for s in egtea.splits["train"]])
    for s in egtea.splits["train"]:
        allowed = [seg for seg in train_by_video[s.video] if seg.start < s.target.start][-15:]
        assert s.history == tuple(seg.action for seg in allowed)
        assert not {seg.uid for seg in allowed} & val_uids
    # with history_source=all, a validation sample may see earlier training clips of its video
    both = EGTEA(EGTEAConfig(history_source="all")).load(DATA)
    longer = sum(len(a.history) > len(b.history) for a, b in zip(both.splits["val"], egtea.splits["val"]))
    assert longer > 0


def _labels_from(data, timelines):
    """Per training sample and observed step: the action of the latest-starting segment of
    ``timelines`` that covers the step (start <= t < end), with its uid; computed here, not by
    the runner."""
    out = []
    for sample in data.splits["train"]:
        segs = timelines.get(sample.video, [])
        row = []
        for t in data.obs_times(sample):
            covering = [s for s in segs if s.start <= t < s.end]
            best = max(covering, key=lambda s: (s.start, s.end, int(s.uid)), default=None)
            row.append((best.action, best.uid) if best else (-100, None))
        out.append(row)
    return out


@needs_data
@pytest.mark.parametrize("split", [1, 2, 3])
def test_no_egtea_validation_label_reaches_a_training_tensor(split):
    from benchmark.run.inputs import step_labels

    data = EGTEA(EGTEAConfig(split=split)).load(DATA)
    train, val = data.splits["train"], data.splits["val"]
    val_uids = {s.uid for s in val}
    # targets
    assert not {s.uid for s in train} & val_uids
    # histories (the teachers' only input besides the class names)
    train_by_video = order_timelines([s.target for s in train])
    for s in train:
        earlier = [seg for seg in train_by_video[s.video] if seg.start < s.target.start][-15:]
        assert s.history == tuple(seg.action for seg in earlier)
    # per-step past-action labels, against labels computed here from training segments only
    expected = _labels_from(data, train_by_video)
    got = step_labels(data, "train")
    assert got.tolist() == [[a for a, _ in row] for row in expected]
    assert not {uid for row in expected for _, uid in row} & val_uids
    # the same computation over both splits' segments would let validation labels in
    both = order_timelines([s.target for s in train] + [s.target for s in val])
    leaky = _labels_from(data, both)
    leaked = [[uid in val_uids for _, uid in row] for row in leaky]
    assert sum(map(sum, leaked)) > 0
    # on split 1, the steps after the first (those the loss used): 3,718 of 30,368 labels (1,227
    # samples) are validation clips'; in 2 of them the clip has the action the fix gives
    if split == 1:
        n_leaked, n_samples = sum(sum(row[1:]) for row in leaked), sum(any(row[1:]) for row in leaked)
        n_labels = sum(a != -100 for row in leaky for a, _ in row[1:])
        assert (n_leaked, n_labels, n_samples) == (3718, 30368, 1227)


@needs_data
def test_epic55_step_labels_are_the_same_from_either_timeline(epic):
    # whole videos per split: the split rule changes nothing on EPIC-55 (its results stand)
    import dataclasses

    from benchmark.run.inputs import step_labels

    both = dataclasses.replace(epic, split_timelines={"train": epic.timelines, "val": epic.timelines})
    for split in ("train", "val"):
        assert (step_labels(epic, split) == step_labels(both, split)).all()


def _start_frames(path):
    with open(path) as fh:
        return [int(line.split(",")[2]) for line in fh if line.strip()]


@needs_data
@pytest.mark.parametrize("sampling", ["avt", "rulstm"])
def test_segments_are_dropped_as_the_reference_code_drops_them(sampling):
    # expected counts straight from the CSV start frames (30 fps clock, tau_a = 1 s):
    # AVT keeps a segment when start - tau_a is at least one frame in (frame >= 31); RULSTM when
    # its last sampled frame, floor((f / 30 - 0.25) * 30) = f - 8, is at least 1 (f >= 9)
    least = {"avt": 31, "rulstm": 9}[sampling]
    expected = {split: sum(f < least for f in _start_frames(DATA / f"epic55/rulstm/{name}.csv"))
                for split, name in (("train", "training"), ("val", "validation"))}
    assert expected == ({"train": 63, "val": 10} if sampling == "avt" else {"train": 21, "val": 7})
    data = EPIC55(EPIC55Config(sampling=sampling, video_start="reference")).load(DATA)
    assert {k: sum(v.values()) for k, v in data.dropped.items()} == expected
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 23493 - expected["train"],
                                                          "val": 4979 - expected["val"]}
    assert min(s.target.start for s in data.splits["val"]) >= least / 30 - 1e-9
    assert data.frame_padding == ("first-valid" if sampling == "rulstm" else "clamp")
    # a kept RULSTM sequence that reaches before the video repeats its first valid frame
    if sampling == "rulstm":
        early = next(s for s in data.splits["val"] if s.target.start * 30 < 14 * 7.5)
        frames = data.obs_frames(early)
        raw = [int(np.floor(round(early.target.start * 30) - 7.5 * k)) for k in range(14, 0, -1)]
        assert frames.tolist() == [f if f >= 1 else min(r for r in raw if r >= 1) for f in raw]
    # the default keeps every segment; EGTEA (tau_a = 0.5 s) loses none under either policy
    assert EPIC55(EPIC55Config(sampling=sampling)).load(DATA).dropped == {}
    assert EGTEA(EGTEAConfig(sampling=sampling, video_start="reference")).load(DATA).dropped == {}


segment_lists = st.lists(
    st.tuples(st.integers(0, 300), st.integers(1, 90), st.integers(0, 9)), min_size=1, max_size=30
)


@given(segment_lists, st.integers(0, 6))
@settings(max_examples=200, deadline=None)
def test_no_future_label_ever_enters_a_history(rows, history_len):
    segs = [Segment(str(i), "v", s / 30, (s + d) / 30, a, 0, 0) for i, (s, d, a) in enumerate(rows)]
    samples = build_samples(segs, order_timelines(segs), 1.0, history_len)
    by_uid = {s.uid: s for s in segs}
    for sample in samples:
        earlier = [s for s in order_timelines(segs)["v"] if s.start < sample.target.start]
        assert sample.history == tuple(s.action for s in earlier[max(0, len(earlier) - history_len):] if history_len)
        assert len(sample.history) <= history_len
        assert all(by_uid[sample.uid].start > s.start for s in earlier)


def test_frame_indices_on_hand_checked_cases():
    assert frame_of(0.0) == 1 and frame_of(-2.0) == 1  # clamped at frame 1
    assert frame_of(1.0) == 30 and frame_of(5.0 + 1 / 30) == 151
    assert frame_of(64.6) == 1938  # floor(1937.9999999999998) would be 1937 without the guard
    assert list(frames_of(np.array([0.01, 0.5, 3.5]))) == [1, 15, 105]


def test_observation_protocols():
    avt = observation(EPIC55Config())
    assert (avt.steps, avt.step_s, avt.tail_steps) == (10, 0.5, 0)
    rul = observation(EPIC55Config(sampling="rulstm"))
    assert (rul.steps, rul.step_s, rul.tail_steps) == (14, 0.25, 3)
    with pytest.raises(ConfigError, match=r"components.dataset.epic55: with rulstm sampling anticipation_s must be a multiple of rulstm_alpha"):
        build_config(EPIC55Config, {"sampling": "rulstm", "anticipation_s": 0.3}, "components.dataset.epic55")
    with pytest.raises(ConfigError, match=r"components.dataset.epic55.avt_fps: expected > 0, got 0"):
        build_config(EPIC55Config, {"avt_fps": 0}, "components.dataset.epic55")


@needs_data
def test_rulstm_sampling_times_match_the_reference_code(epic):
    data = EPIC55(EPIC55Config(sampling="rulstm")).load(DATA)
    s = data.splits["train"][0]  # P01_02, start frame 152
    assert s.target.start == 152 / 30
    expected = [int(np.floor((152 / 30 - d) * 30 + 1e-9)) for d in np.arange(3.5, 0, -0.25)]
    assert list(frames_of(data.obs_times(s))) == [max(1, f) for f in expected]
    assert data.anticipation_index == 10 and data.obs_times(s)[10] == pytest.approx(152 / 30 - 1.0)
    avt = epic.obs_times(epic.splits["train"][0])
    assert avt[-1] == pytest.approx(152 / 30 - 1.0) and np.allclose(np.diff(avt), 0.5)


def test_text_verbalisation():
    assert epic_action_text("take", "pan") == "take <v> pan"
    assert epic_action_text("put-down", "pan:dust") == "put-down <v> dust pan"
    assert egtea_action_text("Take_eating:utensil") == "take <v> eating utensil"
    assert egtea_action_text("Inspect/Read_recipe") == "inspect or read <v> recipe"
    assert egtea_action_text("Move Around_bacon") == "move around <v> bacon"


def test_authors_verbalisation_of_actions_csv_names():
    # epic55_finetuning.py: name.split('_')[0] + ' <v> ' + ' '.join(name.split('_')[1].split(':')[::-1]),
    # on names that pandas read with the space after the comma of actions.csv
    assert authors_action_text("get_fish") == " get <v> fish"
    assert authors_action_text(" pick-up_chilli") == " pick-up <v> chilli"
    assert authors_action_text("put_pan:dust") == " put <v> dust pan"
    assert authors_action_text("take_a:b:c") == " take <v> c b a"


@needs_data
def test_epic55_verbalisation_modes_on_the_real_actions_file():
    rows = {}
    with (DATA / "epic55" / "rulstm" / "actions.csv").open() as fh:
        next(fh)
        for line in fh:
            aid, name, verb, noun = line.rstrip("\n").split(",")
            rows[int(aid)] = (name, int(verb), int(noun))
    official = EPIC55(EPIC55Config()).load(DATA).classes
    authors = EPIC55(EPIC55Config(verbalisation="authors")).load(DATA).classes
    assert rows[2][0] == " get_fish" and authors.action_texts[2] == " get <v> fish"
    assert official.action_texts[2] == f"{official.verbs[rows[2][1]]} <v> fish" == "take <v> fish"
    assert rows[3][0] == " pick-up_chilli" and authors.action_texts[3] == " pick-up <v> chilli"
    for aid, (name, _, _) in rows.items():
        verb, noun = name.split("_")[0], name.split("_")[1]
        assert authors.action_texts[aid] == verb + " <v> " + " ".join(noun.split(":")[::-1])
    differ = sum(a.strip() != o for a, o in zip(authors.action_texts, official.action_texts))
    assert differ == 1287 and len(rows) == 2513
    assert EPIC55(EPIC55Config()).fingerprint(DATA) != EPIC55(EPIC55Config(verbalisation="authors")).fingerprint(DATA)


@pytest.mark.parametrize("content, message", [
    ("1, P01, 10, 20, 0, 1\n", ":1: expected 7 fields"),
    ("1, P01, 10, 20, 0, 1, 2\n2, P01, x, 20, 0, 1, 2\n", ":2: start frame must be an integer"),
    ("1, P01, 10, 20, 0, 1, 2\n1, P01, 30, 40, 0, 1, 2\n", ":2: duplicated segment id 1 (first on line 1)"),
    ("1, P01, 30, 20, 0, 1, 2\n", ":1: end frame 20 is before start frame 30"),
])
def test_malformed_rows_name_file_and_line(tmp_path, content, message):
    f = tmp_path / "training.csv"
    f.write_text(content)
    with pytest.raises(DataError) as exc:
        read_rulstm_segments(f)
    assert str(f) in str(exc.value) and message in str(exc.value)


@needs_data
def test_unknown_class_id_names_file_and_line(tmp_path):
    import shutil

    root = tmp_path / "epic55"
    shutil.copytree(DATA / "epic55", root)
    path = root / "rulstm" / "validation.csv"
    lines = path.read_text().splitlines()
    lines[3] = "99999, P01_01, 0000000500, 0000000600, 000, 001, 9999"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"validation.csv:4: unknown action id 9999"):
        EPIC55().load(tmp_path)
    lines[3] = "99999, P01_01, 0000000500, 0000000600, 003, 001, 0000"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"validation.csv:4: action 0 is \(verb 0, noun 1\)"):
        EPIC55().load(tmp_path)


@needs_data
def test_fingerprint_covers_protocol_and_files(tmp_path):
    base = EPIC55().fingerprint(DATA)
    assert EPIC55(EPIC55Config(anticipation_s=2.0)).fingerprint(DATA) != base
    assert EPIC55(EPIC55Config(sampling="rulstm")).fingerprint(DATA) != base
    assert EGTEA(EGTEAConfig(split=2)).fingerprint(DATA) != EGTEA().fingerprint(DATA)
    with pytest.raises(ConfigError, match="not found"):
        EPIC55().fingerprint(tmp_path)


@needs_data
def test_official_epic_files_parse():
    from plugins.datasets.parsing import read_epic_class_keys, read_epic_narrations

    narrations = read_epic_narrations(DATA / "epic55" / "official" / "EPIC_train_action_narrations.csv")
    assert len(narrations) == 28587 and narrations[0] == ("P01_01", 1.089, "open door")
    verbs = read_epic_class_keys(DATA / "epic55" / "official" / "EPIC_verb_classes.csv", "verb_id")
    assert verbs[:2] == ["take", "put"] and len(verbs) == 125


def test_bad_timestamp_names_file_and_line(tmp_path):
    from plugins.datasets.parsing import read_epic_narrations

    f = tmp_path / "n.csv"
    f.write_text("participant_id,video_id,start_timestamp,stop_timestamp,narration\nP01,P01_01,1.5s,00:00:02.00,open door\n")
    with pytest.raises(DataError, match=r"n.csv:2: expected a HH:MM:SS.ff timestamp"):
        read_epic_narrations(f)


@needs_data
def test_teacher_text_of_a_history(egtea):
    s = next(s for s in egtea.splits["val"] if len(s.history) >= 2)
    text = egtea.classes.history_text(s.history)
    assert text.count(" <a> ") == len(s.history) - 1 and " <v> " in text and text == text.lower()
