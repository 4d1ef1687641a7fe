"""The teacher step of a cell: what a teacher is fitted on and what the student is given for
samples without a past action (``train.teacher_empty_history``)."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment, TeacherOutput
from benchmark.matrix import load_matrix
from benchmark.plugin_manager import Plugins
from benchmark.run import Runner
from benchmark.run.teachers import empty_history_targets, fit_data


def _data() -> AnticipationData:
    cls = ClassSpace(["a", "b", "c"], ["v"], ["x", "y", "z"], np.zeros(3, int), np.arange(3))
    splits = {}
    for split in ("train", "val"):
        segs = [Segment(f"{split}{i}", split, i, i + 0.5, i % 3, 0, i % 3) for i in range(4)]
        splits[split] = [Sample(s.uid, split, s, s.start - 0.1, tuple(x.action for x in segs[:i]))
                         for i, s in enumerate(segs)]
    return AnticipationData("t", "synthetic", cls, splits, {}, 2, 0.5, "t")


def test_uniform_mode_gives_constant_logits_to_empty_histories_only():
    data = _data()
    rng = np.random.default_rng(0)
    outputs = {s: TeacherOutput(rng.normal(size=(4, 3)).astype(np.float32), np.ones((4, 2), np.float32))
               for s in ("train", "val")}
    kept, counts = empty_history_targets(outputs, data, "teacher")
    assert counts == {"mode": "teacher", "train": 1, "val": 1}
    assert kept["train"] is outputs["train"]
    uniform, counts = empty_history_targets(outputs, data, "uniform")
    assert counts == {"mode": "uniform", "train": 1, "val": 1}
    for split in ("train", "val"):
        probs = np.exp(uniform[split].logits[0]) / np.exp(uniform[split].logits[0]).sum()
        np.testing.assert_allclose(probs, [1 / 3] * 3)
        np.testing.assert_array_equal(uniform[split].logits[1:], outputs[split].logits[1:])
        np.testing.assert_array_equal(uniform[split].features, outputs[split].features)
    assert outputs["train"].logits[0].std() > 0  # the cached outputs are not changed in place


def test_uniform_mode_fits_the_teacher_without_empty_histories():
    data = _data()
    assert fit_data(data, "teacher") is data
    fitted = fit_data(data, "uniform")
    assert [s.uid for s in fitted.splits["train"]] == ["train1", "train2", "train3"]
    assert fitted.splits["val"] is data.splits["val"]  # predictions still cover every sample


FIRST_SEGMENTS = """
import dataclasses

from benchmark import hookimpl
from benchmark.api import Sample
from plugins.datasets.synthetic import SyntheticKitchens


class WithFirstSegments(SyntheticKitchens):
    \"\"\"The synthetic dataset with each video's first segment as a sample too (no past action).\"\"\"

    name = "synthetic-first"

    def load(self, data_dir):
        data = super().load(data_dir)
        splits = {}
        for split, samples in data.splits.items():
            firsts = [data.timelines[v][0] for v in sorted({s.video for s in samples})]
            splits[split] = [Sample(f.uid, f.video, f, f.start - 1.0, ()) for f in firsts] + samples
        return dataclasses.replace(data, splits=splits)


@hookimpl
def bench_register_datasets():
    return [WithFirstSegments]
"""


@pytest.mark.parametrize("mode", ["teacher", "uniform"])
def test_the_teacher_record_counts_the_empty_histories(tmp_path, mode):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "first_segments.py").write_text(FIRST_SEGMENTS)
    plugins = Plugins([tmp_path / "plugins"])
    overrides = ["train.epochs=1", "matrix.seed=[0]", "matrix.loss=[kl]", "matrix.teacher=[seq-gru]",
                 "matrix.dataset=[synthetic-first]", "components.dataset.synthetic-first.train_videos=6",
                 "components.dataset.synthetic-first.val_videos=3", f"train.teacher_empty_history={mode}"]
    matrix = load_matrix("smoke", plugins, overrides)
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    summary = runner.run(matrix, echo=lambda line: None)
    (record,) = summary.executed
    assert record["status"] == "ok", record.get("error")
    assert record["teacher_info"]["empty_history"] == {"mode": mode, "train": 6, "val": 3}


def test_provenance_names_the_corpus_and_its_sha256_and_survives_the_cache(tmp_path):
    import hashlib

    from benchmark.plugin_manager import get_plugins

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("chop <v> onion <a> add <v> salt\nstir <v> soup <a> serve <v> soup\n")
    teacher = ("components.teacher.roberta={init: scratch, scratch_hidden: 32, scratch_layers: 1, scratch_heads: 2, "
               "scratch_vocab: 300, max_len: 32, epochs: 1, batch_size: 64, pretrain_corpus: text-file, "
               f"pretrain_corpus_config: {{path: {corpus}}}, pretrain_max_steps: 2, pretrain_batch_size: 1}}")
    overrides = ["train.epochs=1", "matrix.seed=[0]", "matrix.loss=[kl]", "matrix.teacher=[roberta]",
                 "components.dataset.synthetic.train_videos=4", "components.dataset.synthetic.val_videos=2", teacher]
    plugins = get_plugins()

    def fit():
        runner = Runner(plugins, tmp_path / "runs", progress=False)
        (record,) = runner.fit_teachers(load_matrix("smoke", plugins, overrides), echo=lambda line: None)
        return record

    first = fit()
    info = first["teacher_info"]
    assert info["corpus"]["name"] == "text-file"
    assert info["corpus"]["fingerprint"] == "sha256:" + hashlib.sha256(corpus.read_bytes()).hexdigest()
    assert info["stage_a"]["steps"] == 2 and info["stage_a"]["lines"] == 2
    assert info["texts"]["verbalisation"] == "the dataset's" and len(info["texts"]["sha256"]) == 64
    assert set(info["uids"]) == {"train", "val"} and all(n > 0 for n in info["uids"].values())
    again = fit()
    assert again["teacher_cache_key"] == first["teacher_cache_key"]
    assert again["teacher_info"]["stage_a"] == info["stage_a"]  # read back from the cache entry
    corpus.write_text("wash <v> hand\n")  # another corpus: another teacher
    assert fit()["teacher_cache_key"] != first["teacher_cache_key"]


def test_a_missing_corpus_is_noted_when_validating_and_refused_when_running(tmp_path):
    from benchmark.errors import ConfigError
    from benchmark.plugin_manager import get_plugins

    plugins = get_plugins()
    teacher = ("components.teacher.roberta={init: scratch, pretrain_corpus: text-file, "
               f"pretrain_corpus_config: {{path: {tmp_path / 'absent.txt'}}}}}")
    matrix = load_matrix("smoke", plugins, ["matrix.teacher=[roberta]", "matrix.loss=[kl]", teacher])
    runner = Runner(plugins, tmp_path / "runs", progress=False)
    runner.plan(matrix, require_features=False)
    assert "text-file corpus: path" in runner.unavailable_corpora["roberta"]
    with pytest.raises(ConfigError, match=r"teacher 'roberta': text-file corpus: path .*absent.txt.* not found"):
        runner.plan(matrix)
