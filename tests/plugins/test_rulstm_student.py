import dataclasses
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.config import build_config
from benchmark.errors import ConfigError
from plugins.students.rulstm import RULSTMConfig, RULSTMPaperStudent, RULSTMStudent

LAYOUT = {"rgb": [0, 6], "flow": [6, 12], "obj": [12, 16]}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: intra-op threads only add contention on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model(T_index=10, layout=None, input_dim=8, classes=5, **cfg):
    torch.manual_seed(0)
    student = RULSTMStudent(RULSTMConfig(**{"hidden": 12, "dropout": 0.3, **cfg}))
    student.anticipation_index = T_index
    student.feature_layout = layout
    return student, student.build(input_dim, classes).eval()


def test_outputs_rulstm_and_avt_sampling():
    # RULSTM-style: 6 + 8 steps, tau_a = 1 s at alpha 0.25 -> scored step 10 of 14
    _, m = model()
    x = torch.randn(3, 14, 8)
    out = m(x)
    assert out["all_logits"].shape == (3, 8, 5) and out["logits"].shape == (3, 5)
    assert out["feature"].shape == (3, 12) and m.feature_dim == 12
    torch.testing.assert_close(out["logits"], out["all_logits"][:, 10 - 6])
    # AVT-style: no steps after start - tau_a, the last step is the scored one
    _, m = model(T_index=9, unroll_extra=2)
    out = m(torch.randn(3, 10, 8))
    assert out["all_logits"].shape == (3, 8, 5)
    torch.testing.assert_close(out["logits"], out["all_logits"][:, -1])
    # fewer steps than ant_steps: every step gets a prediction
    _, m = model(T_index=-1)
    assert m(torch.randn(2, 5, 8))["all_logits"].shape == (2, 5, 5)


def test_scored_step_must_be_an_anticipation_step():
    _, m = model(T_index=2, ant_steps=8)
    with pytest.raises(ConfigError, match="ant_steps"):
        m(torch.randn(2, 14, 8))


def test_unrolling_starts_from_the_rolling_state():
    _, m = model()
    x = torch.randn(3, 14, 8)
    base = m(x)["all_logits"]
    earlier = x.clone()
    earlier[:, 0] += 1.0  # only the rolling LSTM reads step 0 for the predictions at steps 6..13
    changed = (m(earlier)["all_logits"] - base).abs().amax(dim=(0, 2))
    assert bool((changed > 1e-5).all())
    branch, steps = m.branches[0], list(range(6, 14))
    h, c = branch.roll(x)
    with torch.no_grad():
        zeros = torch.zeros_like(h[:, steps])
        zero = branch.classifier(branch.unroll(x, steps, zeros, zeros, 1, False))
        own = branch.classifier(branch.unroll(x, steps, h[:, steps], c[:, steps], 1, False))
    torch.testing.assert_close(own, base)
    assert not torch.allclose(zero, base)


@pytest.mark.parametrize("T, index, extra", [(14, 10, 1), (10, 9, 2)])
def test_unroll_length_reaches_the_action_start(T, index, extra):
    """Step i unrolls T - 1 - i + extra + 1 times: T - i + 1 as in the reference for RULSTM
    sampling (extra 1), one more per step of tau_a for AVT sampling (extra = tau_a / step)."""
    _, m = model(T_index=index, unroll_extra=extra)
    x = torch.randn(2, T, 8)
    branch, steps = m.branches[0], list(range(T - 8, T))
    h, c = branch.roll(x)
    with torch.no_grad():
        batched = branch.unroll(x, steps, h[:, steps], c[:, steps], extra, False)
        for k, i in enumerate(steps):
            n = T - 1 - i + extra + 1
            out, _ = branch.unrolling(x[:, i:i + 1].expand(2, n, 8), (h[None, :, i], c[None, :, i]))
            torch.testing.assert_close(batched[:, k], out[:, -1])


def test_train_stage_never_reads_later_steps():
    _, m = model(layout=LAYOUT, input_dim=16)
    x = torch.randn(3, 14, 16)
    base = m(x)["all_logits"]
    for j in range(7, 14):  # perturb steps j.. : predictions at steps < j must not move
        y = x.clone()
        y[:, j:] = torch.randn_like(y[:, j:]) * 5
        out = m(y)
        torch.testing.assert_close(out["all_logits"][:, : j - 6], base[:, : j - 6], rtol=0, atol=1e-6)
        assert not torch.allclose(out["all_logits"][:, j - 6], base[:, j - 6])
    later = x.clone()
    later[:, 11:] += 3.0  # after start - tau_a: the scored logits do not change
    torch.testing.assert_close(m(later)["logits"], m(x)["logits"], rtol=0, atol=1e-6)


def test_sequence_completion_reads_the_true_future():
    student, m = model(sc_epochs=3)
    assert student.pretrain_epochs() == 3
    x = torch.randn(3, 14, 8)
    later = x.clone()
    later[:, 11:] += 3.0
    m.stage = "pretrain"
    assert not torch.allclose(m(later)["logits"], m(x)["logits"])
    # the input of the unroll from step i is steps i, i+1, ... (the last one repeated)
    branch, steps = m.branches[0], list(range(6, 14))
    h, c = branch.roll(x)
    with torch.no_grad():
        batched = branch.unroll(x, steps, h[:, steps], c[:, steps], 1, True)
        seq = torch.cat([x[:, 6:], x[:, -1:]], 1)
        out, _ = branch.unrolling(seq, (h[None, :, 6], c[None, :, 6]))
    torch.testing.assert_close(batched[:, 0], out[:, -1])
    m.stage = "train"
    torch.testing.assert_close(m(later)["logits"], m(x)["logits"], rtol=0, atol=1e-6)


def test_matt_fuses_one_branch_per_modality():
    _, m = model(layout=LAYOUT, input_dim=16)
    assert m.names == ["rgb", "flow", "obj"] and len(m.branches) == 3
    assert [b.rolling.input_size for b in m.branches] == [6, 6, 4]
    x = torch.randn(4, 14, 16)
    out = m(x)
    w = out["matt_weights"]
    assert w.shape == (4, 8, 3) and bool((w > 0).all())
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 8))
    assert out["feature"].shape == (4, 36) and m.feature_dim == 36
    scores = torch.stack([b(x[..., lo:hi], list(range(6, 14)), 1, False)[0]
                          for (lo, hi), b in zip(m.ranges, m.branches)], -2)
    torch.testing.assert_close(out["all_logits"], (scores * w.unsqueeze(-1)).sum(-2))
    # a chosen subset, a single modality (no MATT) and no layout (one branch over all columns)
    assert model(layout=LAYOUT, input_dim=16, modalities=["obj", "rgb"])[1].names == ["obj", "rgb"]
    single = model(layout=LAYOUT, input_dim=16, modalities=["flow"])[1]
    assert single.matt is None and single.ranges == [(6, 12)] and "matt_weights" not in single(x)
    plain = model(layout=None, input_dim=16)[1]
    assert plain.matt is None and plain.ranges == [(0, 16)]
    with pytest.raises(ConfigError, match="modalities"):
        model(layout=LAYOUT, input_dim=16, modalities=["depth"])
    with pytest.raises(ConfigError, match="modalities"):
        model(layout=None, input_dim=16, modalities=["rgb"])


def test_layout_from_input_info_and_config_checks():
    student = RULSTMStudent(RULSTMConfig(hidden=8))
    student.input_info = {"layout": {"rgb": [0, 4], "obj": [4, 8]}}
    assert list(student.branches(8)) == ["rgb", "obj"]
    for bad in ({"dropout": 1.0}, {"ant_steps": 0}, {"unroll_extra": -1}, {"sc_epochs": -2}, {"hidden": 0},
                {"modalities": ["rgb", "rgb"]}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            build_config(RULSTMConfig, bad, "components.student.rulstm")
        with pytest.raises(ConfigError, match=next(iter(bad))):
            build_config(RULSTMPaperStudent.Config, bad, "components.student.rulstm-paper")


def test_own_loss_is_the_mean_ce_over_every_anticipation_step():
    student, m = model()
    out = m(torch.randn(4, 14, 8))
    y = torch.tensor([0, 1, 2, 3])
    expected = torch.stack([F.cross_entropy(out["all_logits"][:, k], y) for k in range(8)]).mean()
    torch.testing.assert_close(student.own_loss(out, y), expected)


def test_registered_presets(plugins):
    assert plugins.get("student", "rulstm") is RULSTMStudent
    paper = plugins.get("student", "rulstm-paper")
    assert paper is RULSTMPaperStudent and paper.uses_future_steps
    cfg = paper.Config()
    assert (cfg.hidden, cfg.dropout, cfg.ant_steps, cfg.sc_epochs) == (1024, 0.8, 8, 100)
    assert (cfg.stages, cfg.fusion_epochs) == ("reference", 100) and RULSTMConfig().stages == "joint"
    assert paper.train_defaults == {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "batch_size": 128, "epochs": 100}
    assert RULSTMStudent.train_defaults == {}


def synthetic_rulstm_data():
    """The synthetic dataset sampled RULSTM-style: 14 steps every 0.25 s ending 0.25 s before
    the start, the step at start - 1 s (index 10) scored."""
    from plugins.datasets.synthetic import SyntheticConfig, SyntheticKitchens
    from plugins.features.simulated import SimulatedConfig, SimulatedFeatures

    d = SyntheticKitchens(SyntheticConfig(train_videos=16, val_videos=8, num_actions=12)).load(None)
    d = dataclasses.replace(d, obs_steps=14, obs_step_s=0.25, obs_tail_steps=3)
    fs = SimulatedFeatures(SimulatedConfig(dim=16, noise=0.6, modalities=["rgb", "obj"]))
    x_train, x_val = fs.load(d, "train"), fs.load(d, "val")
    return d, fs.last_info, x_train, x_val


def test_learns_on_synthetic_data_with_pretraining_and_matt():
    d, info, x_train, x_val = synthetic_rulstm_data()
    assert d.anticipation_index == 10 and x_train.shape[1:] == (14, 32)
    y_train = torch.tensor([s.target.action for s in d.splits["train"]])
    y_val = np.array([s.target.action for s in d.splits["val"]])
    torch.manual_seed(0)
    student = RULSTMStudent(RULSTMConfig(hidden=32, dropout=0.1, sc_epochs=1))
    student.anticipation_index, student.input_info = d.anticipation_index, info
    student.feature_layout = info["layout"]
    m = student.build(32, d.classes.num_actions)
    assert m.names == ["rgb", "obj"]
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    X, losses = torch.from_numpy(x_train), []
    gen = torch.Generator().manual_seed(0)
    for stage in ["pretrain"] * student.pretrain_epochs() + ["train"] * 4:
        m.stage = stage
        m.train()
        total = 0.0
        for b in torch.randperm(len(X), generator=gen).split(64):
            loss = student.own_loss(m(X[b]), y_train[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        losses.append(total / len(X))
    m.eval()
    with torch.no_grad():
        acc = float((m(torch.from_numpy(x_val))["logits"].argmax(1).numpy() == y_val).mean())
    majority = float((y_val == np.bincount(y_train.numpy()).argmax()).mean())
    assert losses[-1] < losses[1] < np.log(d.classes.num_actions)
    assert acc > max(2 * majority, 2.0 / d.classes.num_actions), (acc, majority)


def test_runs_in_the_training_loop_with_a_pretraining_stage():
    from accelerate import Accelerator

    from benchmark.run.training import TrainData, TrainSettings, train_and_evaluate
    from plugins.losses.none import NoDistill

    x = np.random.default_rng(0).standard_normal((40, 14, 8)).astype(np.float32)
    y = np.arange(40) % 4
    student = RULSTMStudent(RULSTMConfig(hidden=8, sc_epochs=1))
    student.anticipation_index = 10
    stages = []
    build = student.build

    def spy(input_dim, num_classes):
        net = build(input_dim, num_classes)
        forward = net.forward
        net.forward = lambda inp: (stages.append(net.stage), forward(inp))[1]
        return net

    student.build = spy
    train = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "grad_clip": 0.0,
             "batch_size": 20, "eval_batch_size": 20, "epochs": 1}
    result = train_and_evaluate(student, NoDistill(), TrainData(x, y, x[:6], 4),
                                TrainSettings(train, 0, Accelerator(cpu=True), logging.getLogger("test")))
    assert result.val_scores.shape == (6, 4) and len(result.epoch_losses) == 2
    assert stages == ["pretrain", "pretrain", "train", "train", "train"]


def test_reference_stages_train_each_branch_then_matt_and_keep_the_best_epochs():
    from accelerate import Accelerator

    from benchmark.run.training import TrainData, TrainSettings, topk_percent, train_and_evaluate
    from plugins.losses.none import NoDistill

    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 14, 16)).astype(np.float32)
    y = np.arange(48) % 6
    x[np.arange(48), :, y] += 2.0  # learnable from the rgb columns
    student = RULSTMStudent(RULSTMConfig(hidden=8, dropout=0.0, sc_epochs=2, stages="reference", fusion_epochs=3))
    student.anticipation_index, student.feature_layout = 10, {"rgb": [0, 8], "obj": [8, 16]}
    plan = student.training_stages(2)
    assert [(st.name, st.epochs, st.mode, st.branch) for st in plan] == [
        ("sc:rgb", 2, "pretrain", "rgb"), ("anticipation:rgb", 2, "train", "rgb"),
        ("sc:obj", 2, "pretrain", "obj"), ("anticipation:obj", 2, "train", "obj"), ("matt", 3, "train", "")]
    assert all(st.fresh_optimizer and st.select_best for st in plan)
    seen, optimisers = [], []
    build = student.build

    def spy(input_dim, num_classes):
        net = build(input_dim, num_classes)
        forward = net.forward
        net.forward = lambda inp: (seen.append((net.stage, net.branch, net.training)), forward(inp))[1]
        return net

    student.build = spy
    params = student.stage_parameters
    student.stage_parameters = lambda model, stage: (optimisers.append(stage.name), params(model, stage))[1]
    train = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0, "grad_clip": 0.0,
             "batch_size": 24, "eval_batch_size": 48, "epochs": 2}
    result = train_and_evaluate(student, NoDistill(), TrainData(x, y, x, 6, y_val=y),
                                TrainSettings(train, 0, Accelerator(cpu=True), logging.getLogger("test")))
    assert optimisers == [st.name for st in plan]  # a fresh optimiser per run
    # every epoch trains (2 batches) then validates (1 batch) in the stage's mode and branch
    expected = []
    for st in plan:
        expected += ([(st.mode, st.branch, True)] * 2 + [(st.mode, st.branch, False)]) * st.epochs
    assert seen[:len(expected)] == expected and len(seen) == len(expected)
    assert set(result.selection) == {st.name for st in plan}
    for st in plan:
        sel = result.selection[st.name]
        assert 1 <= sel["best_epoch"] <= st.epochs and sel["best_top5"] >= sel["last_top5"]
    # the scores returned are those of MATT's best epoch; the last epoch's are kept beside
    assert topk_percent(result.val_scores, y, 5) == pytest.approx(result.selection["matt"]["best_top5"], abs=1e-4)
    assert topk_percent(result.last_val_scores, y, 5) == pytest.approx(result.selection["matt"]["last_top5"], abs=1e-4)
    with pytest.raises(Exception, match="validation targets"):
        train_and_evaluate(student, NoDistill(), TrainData(x, y, x, 6),
                           TrainSettings(train, 0, Accelerator(cpu=True), logging.getLogger("test")))


def test_a_branch_alone_scores_like_the_branch_inside_the_network():
    _, m = model(layout=LAYOUT, input_dim=16)
    x = torch.randn(3, 14, 16)
    m.branch = "flow"
    alone = m(x)
    lo, hi = LAYOUT["flow"]
    s, h, _ = m.branches[1](x[..., lo:hi], list(range(6, 14)), 1, False)
    torch.testing.assert_close(alone["all_logits"], s)
    torch.testing.assert_close(alone["logits"], s[:, 4])  # the scored step: index 10 of 14, the 4th-last
    assert "matt_weights" not in alone
    with pytest.raises(ConfigError, match="no branch"):
        m.branch_modules("depth")


def test_rulstm_sampling_scores_the_4th_last_step_at_one_second():
    from plugins.datasets.anticipation import observation
    from plugins.datasets.epic55 import EPIC55Config

    obs = observation(EPIC55Config(sampling="rulstm", avt_fps=1.0))
    # RULSTM: 14 time stamps 3.5, 3.25, ..., 0.25 s before the action; 1 s is the 4th from the end
    stamps = [0.25 * k for k in range(14, 0, -1)]
    assert obs.steps == len(stamps) and obs.step_s == 0.25
    assert obs.steps - 1 - obs.tail_steps == len(stamps) - 4 == stamps.index(1.0)
