"""The seq-gru teacher: the factorised head, early stopping on held-out training videos, the
ensemble, and the defaults that keep the plain GRU."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment
from plugins.teachers.config import SequenceGRUConfig
from plugins.teachers.sequence import SequenceGRUTeacher
from plugins.teachers.sequence_model import SeqNet
from plugins.teachers.sequence_training import held_out_videos


class _Acc:
    device = torch.device("cpu")


def cycle_data(n_videos: int = 10) -> AnticipationData:
    """Six actions over three verbs and three nouns; each video repeats a0 -> ... -> a5."""
    cls = ClassSpace([f"a{i}" for i in range(6)], ["v0", "v1", "v2"], ["n0", "n1", "n2"],
                     np.array([0, 1, 2, 0, 1, 2]), np.array([0, 0, 1, 1, 2, 2]))
    splits, timelines = {"train": [], "val": []}, {}
    for v in range(n_videos):
        segs = [Segment(f"{v}-{i}", f"v{v}", 2.0 * i, 2.0 * i + 1, (i + v) % 6, int(cls.action_verb[(i + v) % 6]),
                        int(cls.action_noun[(i + v) % 6])) for i in range(14)]
        timelines[f"v{v}"] = segs
        split = "val" if v >= n_videos - 2 else "train"
        splits[split] += [Sample(s.uid, s.video, s, s.start - 1, tuple(x.action for x in segs[max(0, i - 5):i]))
                          for i, s in enumerate(segs) if i]
    return AnticipationData("cycle", "synthetic", cls, splits, timelines, 2, 0.5, "cycle")


def test_the_factorised_head_adds_the_verb_and_noun_logits_of_each_pair():
    data = cycle_data()
    torch.manual_seed(0)
    net = SeqNet(data, SequenceGRUConfig(factorised=True, hidden=8, embed_dim=4)).eval()
    ids = torch.tensor([[6, 6, 6, 0, 1]])
    plain = SeqNet(data, SequenceGRUConfig(hidden=8, embed_dim=4)).eval()
    with torch.no_grad():
        out = net(ids)
        z = out["feature"]
        expected = net.head(z)[0] + torch.tensor([net.verb_head(z)[0, v] + net.noun_head(z)[0, n]
                                                  for v, n in zip(data.classes.action_verb, data.classes.action_noun)])
        torch.testing.assert_close(out["action"][0], expected)
        assert isinstance(plain.drop, torch.nn.Identity)  # the defaults keep the plain GRU
        torch.testing.assert_close(plain(ids)["action"], plain.head(plain(ids)["feature"]))


def test_held_out_videos_are_training_videos_drawn_with_the_seed():
    data = cycle_data()
    train_videos = {s.video for s in data.splits["train"]}
    held = held_out_videos(data, 0.25, 3)
    assert held <= train_videos and len(held) == 2 and held == held_out_videos(data, 0.25, 3)
    assert held_out_videos(data, 0.0, 3) == set()


def test_early_stopping_keeps_the_best_held_out_epoch_and_the_ensemble_averages():
    data = cycle_data()
    cfg = SequenceGRUConfig(hidden=16, embed_dim=8, epochs=6, holdout_videos=0.25, ensemble=2, factorised=True,
                            aux_weight=0.5, dropout=0.1, batch_size=16, lr=0.01)
    teacher = SequenceGRUTeacher(cfg)
    teacher.fit(data, _Acc(), 0)
    members = teacher.describe()["members"]
    assert [m["seed"] for m in members] == [0, 1] and all(m["held_out_videos"] == 2 for m in members)
    for m in members:
        assert m["kept_epoch"] == int(np.argmax(m["held_out_top5"])) + 1 and len(m["held_out_top5"]) == 6
    out = teacher.predict(data, "val", _Acc())
    ids = teacher._ids(data, "val")
    with torch.no_grad():
        mean = torch.stack([torch.log_softmax(n(ids)["action"], 1) for n in teacher.nets]).mean(0)
    np.testing.assert_allclose(out.logits, mean.numpy(), rtol=1e-5, atol=1e-6)
    y = np.array([s.target.action for s in data.splits["val"]])
    assert (out.logits.argmax(1) == y).mean() > 0.9  # the cycle is learnt
    assert out.features.shape == (len(y), 16)


@pytest.mark.parametrize("field, value", [("holdout_videos", 1.0), ("dropout", 1.0), ("ensemble", 0)])
def test_settings_out_of_range_are_refused(field, value):
    from benchmark.config import build_config
    from benchmark.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        build_config(SequenceGRUConfig, {field: value}, "components.teacher.seq-gru")
