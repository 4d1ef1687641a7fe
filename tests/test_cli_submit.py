"""`bench submit` end to end on annotation files written here in EPIC-100's formats: a cell
keeps its predictions, the challenge file is written and checked, the fusion scored on val, and
scoring the unlabelled test split refused."""
import json
import os
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

from benchmark.api import ClassSpace
from benchmark.submission import validate
from plugins.datasets.epic100 import EPIC100_CHALLENGE

VERBS, NOUNS = ["take", "put", "open", "wash"], ["tap", "spoon", "plate", "cupboard", "pan:dust"]
PAIRS = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (3, 2), (3, 4), (0, 4)]


PLUGIN = ["--plugins-dir", Path(__file__).parent / "plugin_files" / "epic_formats"]


def bench(*args):
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args), *PLUGIN], capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)


def write_epic100(root, rng):
    """A small EPIC-100 folder in the real formats (RULSTM split files, official class files,
    subset lists, test timestamps)."""
    (root / "rulstm").mkdir(parents=True)
    (root / "official").mkdir()
    (root / "rulstm/actions.csv").write_text("id,verb,noun,action\n" + "".join(
        f"{a},{v},{n},{VERBS[v]} {NOUNS[n]}\n" for a, (v, n) in enumerate(PAIRS)))
    for name, keys in (("verb", VERBS), ("noun", NOUNS)):
        (root / f"official/EPIC_100_{name}_classes.csv").write_text("id,key,instances,category\n" + "".join(
            f"{i},{k},\"['{k}']\",misc\n" for i, k in enumerate(keys)))

    def segments(video, n, labelled=True):
        rows, frame = [], 40
        for i in range(n):
            start, end = frame, frame + int(rng.integers(20, 60))
            frame = end + int(rng.integers(5, 30))
            if labelled:
                a = int(rng.integers(0, len(PAIRS)))
                rows.append(f"{video}_{i},{video},{start},{end},{PAIRS[a][0]},{PAIRS[a][1]},{a}\n")
            else:
                rows.append(f"{video}_{i},{video},{start},{end}\n")
        return rows

    train = segments("P01_01", 40) + segments("P01_02", 40)
    val = segments("P01_11", 20) + segments("P18_01", 12)
    (root / "rulstm/training.csv").write_text("".join(train))
    (root / "rulstm/validation.csv").write_text("".join(val))
    (root / "rulstm/test_timestamps.csv").write_text("".join(segments("P01_101", 9, labelled=False)))
    ids = [r.split(",")[0] for r in val]
    lists = {"unseen_participants": [i for i in ids if i.startswith("P18")], "tail_verbs": ids[::3],
             "tail_nouns": ids[1::3], "tail_actions": ids[::2]}
    for name, listed in lists.items():
        (root / f"rulstm/validation_{name}_ids.csv").write_text("".join(f"{i}\n" for i in listed))
    return [f"P01_101_{i}" for i in range(9)]


def write_epic55(root, rng):
    """A small EPIC-55 folder in the real formats (zero-padded RULSTM rows, official class and
    many-shot files, the seen and unseen test sets)."""
    (root / "rulstm").mkdir(parents=True)
    (root / "official").mkdir()
    (root / "rulstm/actions.csv").write_text("id,action,verb,noun\n" + "".join(
        f"{a}, {VERBS[v]}_{NOUNS[n]},{v},{n}\n" for a, (v, n) in enumerate(PAIRS)))
    (root / "official/EPIC_verb_classes.csv").write_text("verb_id,class_key,verbs\n" + "".join(
        f"{i},{k},\"['{k}']\"\n" for i, k in enumerate(VERBS)))
    (root / "official/EPIC_noun_classes.csv").write_text("noun_id,class_key,nouns\n" + "".join(
        f"{i},{k},['{k}']\n" for i, k in enumerate(NOUNS)))
    (root / "official/EPIC_many_shot_verbs.csv").write_text("verb_class,verb\n0,take\n1,put\n")
    (root / "official/EPIC_many_shot_nouns.csv").write_text("noun_class,noun\n1,spoon\n")
    (root / "official/EPIC_many_shot_actions.csv").write_text('action_class,noun,noun_class,verb,verb_class\n'
                                                              '"(0, 1)",spoon,1,take,0\n')
    uid = iter(range(100, 10000))

    def segments(video, n, labelled=True):
        rows, frame = [], 40
        for _ in range(n):
            start, end = frame, frame + int(rng.integers(20, 60))
            frame = end + int(rng.integers(5, 30))
            head = f"{next(uid):05d}, {video}, {start:010d}, {end:010d}"
            a = int(rng.integers(0, len(PAIRS)))
            rows.append(f"{head}, {PAIRS[a][0]:03d}, {PAIRS[a][1]:03d}, {a:04d}\n" if labelled else head + "\n")
        return rows

    (root / "rulstm/training.csv").write_text("".join(segments("P01_01", 40) + segments("P01_02", 40)))
    (root / "rulstm/validation.csv").write_text("".join(segments("P02_01", 20)))
    seen, unseen = segments("P01_11", 7, labelled=False), segments("P09_01", 5, labelled=False)
    (root / "rulstm/test_seen.csv").write_text("".join(seen))
    (root / "rulstm/test_unseen.csv").write_text("".join(unseen))
    return [str(int(r.split(",")[0])) for r in seen], [str(int(r.split(",")[0])) for r in unseen]


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    d = tmp_path_factory.mktemp("submit")
    test_uids = write_epic100(d / "data" / "mini-epic100", np.random.default_rng(0))
    (d / "m.yaml").write_text("""
name: mini100
matrix: {dataset: mini-epic100, teacher: none, student: gru, loss: none, seed: 0}
feature_source: simulated
components: {feature_source: {simulated: {dim: 16}}}
train: {epochs: 2, batch_size: 16, save_predictions: [val, test]}
metrics: [top5_action, mt5r_action_overall, mt5r_verb_unseen, mt5r_noun_tail]
leaderboard: {primary: mt5r_action_overall}
""")
    res = bench("run", "--matrix", d / "m.yaml", "--runs-dir", d / "runs", "--leaderboard-dir", d / "lb",
                "--data-dir", d / "data", "--no-progress", "--no-download")
    assert res.returncode == 0, res.stderr
    run_id = next(p.name for p in (d / "runs").iterdir() if (p / "record.json").is_file())
    return d, run_id, test_uids


def test_a_cell_keeps_its_predictions_and_submit_writes_a_valid_file(cell):
    d, run_id, test_uids = cell
    record = json.loads((d / "runs" / run_id / "record.json").read_text())
    assert record["predictions"] == {"val": "predictions/val.npy", "test": "predictions/test.npy"}
    assert set(record["metrics"]) == {"top5_action", "mt5r_action_overall", "mt5r_verb_unseen", "mt5r_noun_tail"}
    res = bench("submit", run_id, "--runs-dir", d / "runs", "--data-dir", d / "data", "--out", d / "sub",
                "--sls", 1, 4, 3)
    assert res.returncode == 0, res.stderr
    assert "not real video" in res.stderr  # simulated features are never presented as a result
    obj = json.loads((d / "sub" / "test.json").read_text())
    classes = ClassSpace([f"a{i}" for i in range(len(PAIRS))], VERBS, NOUNS, np.array([v for v, _ in PAIRS]),
                         np.array([n for _, n in PAIRS]))
    # top_actions is capped by the 8 actions of this small class space
    validate(obj, EPIC100_CHALLENGE.__class__(**{**EPIC100_CHALLENGE.__dict__, "top_actions": 8}), test_uids,
             classes, "test.json")
    assert (obj["version"], obj["sls_tl"]) == ("0.2", 4)
    provenance = json.loads((d / "sub" / "provenance.json").read_text())
    assert provenance["data_kind"] == ["simulated"] and provenance["runs"][0]["weight"] == 1.0


def test_submit_needs_the_supervision_levels_for_epic100(cell):
    d, run_id, _ = cell
    res = bench("submit", run_id, "--runs-dir", d / "runs", "--data-dir", d / "data", "--out", d / "nolevels")
    assert res.returncode == 2 and "--sls PT TL TD" in res.stderr
    assert not (d / "nolevels").exists()


def test_evaluate_scores_a_fusion_on_val_and_refuses_the_unlabelled_test_split(cell):
    d, run_id, _ = cell
    record = json.loads((d / "runs" / run_id / "record.json").read_text())
    res = bench("submit", f"{run_id}=0.5", run_id, "--runs-dir", d / "runs", "--data-dir", d / "data",
                "--evaluate", "val")
    assert res.returncode == 0, res.stderr
    # a fusion of a run with itself is that run: the same metrics as its record
    for name, value in record["metrics"].items():
        assert f"{name}: {value:.2f}" in res.stdout
    res = bench("submit", run_id, "--runs-dir", d / "runs", "--data-dir", d / "data", "--evaluate", "test")
    assert res.returncode == 2
    assert "split 'test' of mini-epic100 has no labels" in res.stderr


def test_submit_rejects_a_run_without_predictions_of_the_split(cell, tmp_path):
    import shutil

    d, run_id, _ = cell
    copy = tmp_path / run_id
    shutil.copytree(d / "runs" / run_id, copy)
    (copy / "predictions" / "test.npy").unlink()
    res = bench("submit", copy, "--data-dir", d / "data", "--out", tmp_path / "sub", "--sls", 1, 4, 3)
    assert res.returncode == 2
    assert "test.npy: not found" in res.stderr and "save_predictions" in res.stderr
    assert not (tmp_path / "sub").exists()


def test_a_matrix_naming_a_split_the_dataset_lacks_is_refused_before_running(cell, tmp_path):
    d, _, _ = cell
    matrix = tmp_path / "m.yaml"
    matrix.write_text((d / "m.yaml").read_text().replace("save_predictions: [val, test]",
                                                         "save_predictions: [val, test_seen]"))
    res = bench("run", "--matrix", matrix, "--runs-dir", tmp_path / "runs", "--data-dir", d / "data",
                "--no-progress", "--no-download", "--no-leaderboard")
    assert res.returncode == 2
    assert "train.save_predictions: mini-epic100 has no split 'test_seen' (it has test, train, val)" in res.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_epic55_seen_and_unseen_files_are_written_with_the_warning(tmp_path):
    seen, unseen = write_epic55(tmp_path / "data" / "mini-epic55", np.random.default_rng(2))
    (tmp_path / "m.yaml").write_text("""
name: mini55
matrix: {dataset: mini-epic55, teacher: none, student: gru, loss: none, seed: 0}
feature_source: simulated
components: {feature_source: {simulated: {dim: 16}}}
train: {epochs: 1, batch_size: 16, save_predictions: [test_seen, test_unseen]}
metrics: [top5_action]
""")
    res = bench("run", "--matrix", tmp_path / "m.yaml", "--runs-dir", tmp_path / "runs", "--data-dir",
                tmp_path / "data", "--no-progress", "--no-download", "--no-leaderboard")
    assert res.returncode == 0, res.stderr
    run_id = next(p.name for p in (tmp_path / "runs").iterdir() if (p / "record.json").is_file())
    res = bench("submit", run_id, "--runs-dir", tmp_path / "runs", "--data-dir", tmp_path / "data",
                "--out", tmp_path / "sub")
    assert res.returncode == 0, res.stderr
    assert "part of EPIC-100's validation set" in res.stderr and "no longer a fair benchmark" in res.stderr
    from plugins.datasets.epic55 import EPIC55_CHALLENGE

    classes = ClassSpace([f"a{i}" for i in range(len(PAIRS))], VERBS, NOUNS, np.array([v for v, _ in PAIRS]),
                         np.array([n for _, n in PAIRS]))
    fmt = EPIC55_CHALLENGE.__class__(**{**EPIC55_CHALLENGE.__dict__, "top_actions": 8})
    for name, uids in (("seen.json", seen), ("unseen.json", unseen)):
        obj = json.loads((tmp_path / "sub" / name).read_text())
        validate(obj, fmt, uids, classes, name)
        assert obj["version"] == "0.1" and "sls_pt" not in obj
        assert sorted(obj["results"]) == sorted(uids)  # numeric ids without their zero padding
