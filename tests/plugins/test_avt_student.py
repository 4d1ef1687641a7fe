"""AVT students: shapes, causality, loss terms, learning on synthetic data, AVT-b on frames."""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.config import build_config
from benchmark.errors import ConfigError
from plugins.students.avt import AVTBStudent, AVTEgteaStudent, AVTEpic55Student, AVTStudent
from plugins.students.avt_model import avt_losses

TINY = {"width": 32, "layers": 2, "heads": 4, "dropout": 0.0, "gpt_dropout": 0.0, "max_steps": 16}
TINY_VIT = {"backbone": "vit_base_patch16_224", "image_size": 32, "augment": "resize",
            "backbone_kwargs": {"embed_dim": 16, "depth": 1, "num_heads": 2, "patch_size": 16}}


def tiny_student(cls=AVTStudent, **kw) -> AVTStudent:
    return cls(build_config(cls.Config, {**TINY, **kw}, "test"))


def test_output_shapes_and_feature_dim():
    torch.manual_seed(0)
    model = tiny_student().build(16, 5)
    out = model(torch.randn(3, 6, 16))
    assert model.feature_dim == 32
    assert out["logits"].shape == (3, 5) and out["feature"].shape == (3, 32)
    assert out["predicted"].shape == (3, 6, 16) and out["step_logits"].shape == (3, 6, 5)
    torch.testing.assert_close(out["logits"], out["step_logits"][:, -1])
    with pytest.raises(ValueError, match="max_steps"):
        model(torch.randn(1, 17, 16))


def test_no_step_sees_a_later_step():
    torch.manual_seed(0)
    model = tiny_student(gpt_dropout=0.1, dropout=0.3).build(8, 4).eval()
    x = torch.randn(2, 6, 8)
    with torch.no_grad():
        base = model(x)
        for k in range(6):
            y = x.clone()
            y[:, k] = torch.randn(2, 8) * 3  # not a constant shift: LayerNorm would hide that
            out = model(y)
            for key in ("predicted", "step_logits"):
                torch.testing.assert_close(out[key][:, :k], base[key][:, :k], rtol=0, atol=1e-5)
                assert (out[key][:, k] - base[key][:, k]).abs().max() > 1e-3
    # the scored logits and the feature belong to the last step
    with torch.no_grad():
        y = x.clone()
        y[:, -1] = torch.randn(2, 8)
        assert not torch.allclose(model(y)["feature"], base["feature"])


def test_loss_terms():
    torch.manual_seed(0)
    obs = torch.randn(2, 4, 3, requires_grad=True)
    predicted = torch.cat([obs[:, 1:].detach(), torch.zeros(2, 1, 3)], dim=1).requires_grad_(True)
    step_logits = torch.randn(2, 4, 5, requires_grad=True)
    out = {"logits": step_logits[:, -1], "predicted": predicted, "observed": obs, "step_logits": step_logits}
    y = torch.tensor([1, 2])
    # the prediction at t is scored against the observation at t + 1: a shifted copy costs nothing
    terms = avt_losses(out, y)
    assert terms["feat"].item() == 0.0 and terms["past"].item() == 0.0
    torch.testing.assert_close(terms["cls"], F.cross_entropy(step_logits[:, -1], y))
    moved = {**out, "predicted": predicted + 1.0}
    torch.testing.assert_close(avt_losses(moved, y)["feat"], torch.tensor(1.0))
    # past actions: logits at t against the label of step t + 1; -100 and step 0 never count
    labels = torch.tensor([[3, -100, 4, -100], [-100, 0, -100, -100]])
    past = avt_losses(out, y, labels)["past"]
    expected = F.cross_entropy(torch.stack([step_logits[0, 1], step_logits[1, 0]]), torch.tensor([4, 0]))
    torch.testing.assert_close(past, expected)
    labels[0, 0] = 1  # step 0 has no earlier prediction
    torch.testing.assert_close(avt_losses(out, y, labels)["past"], expected)
    none = avt_losses(out, y, torch.full((2, 4), -100))["past"]
    assert none.item() == 0.0
    # the training loop's placeholder ([B, 1] of -100) when no labels exist
    assert avt_losses(out, y, torch.full((2, 1), -100))["past"].item() == 0.0
    with pytest.raises(ValueError, match="step_targets"):
        avt_losses(out, y, torch.zeros(2, 3, dtype=torch.long))
    # with AVT's first frame: [classifier on the observed step 0, predictions for 1..T-1]
    first = torch.randn(2, 5, requires_grad=True)
    labels = torch.tensor([[3, -100, 4, -100], [2, 0, -100, -100]])
    got = avt_losses({**out, "first_logits": first}, y, labels, past_first_frame=True)["past"]
    expected = F.cross_entropy(torch.stack([first[0], step_logits[0, 1], first[1], step_logits[1, 0]]),
                               torch.tensor([3, 4, 2, 0]))
    torch.testing.assert_close(got, expected)
    with pytest.raises(ValueError, match="past_first_frame"):
        avt_losses(out, y, labels, past_first_frame=True)
    # the regression target is not detached (AVT's): a trained backbone learns from it too
    avt_losses(moved, y)["feat"].backward()
    assert obs.grad is not None and predicted.grad is not None


def test_avt_init_and_first_frame_logits_only_where_configured():
    from plugins.students.avt import AVTConfig, AVTEgteaConfig
    from plugins.students.avt_model import AVTNet

    torch.manual_seed(0)
    net = AVTNet(64, 300, AVTEgteaConfig(width=64, heads=4))
    for layer in (net.head.encoder, net.head.decoder, net.head.classifier):
        assert abs(layer.weight.std().item() - 0.01) < 0.001
    assert torch.count_nonzero(net.head.classifier.bias) == 0
    assert "first_logits" in net(torch.randn(2, 5, 64))
    # the CPU preset keeps torch's defaults (uniform, bias non-zero) and computes no extra logits
    torch.manual_seed(0)
    cpu = AVTNet(64, 300, AVTConfig(width=64, heads=4))
    bound = 1 / 64 ** 0.5
    assert cpu.head.classifier.weight.abs().max().item() <= bound and cpu.head.classifier.weight.std().item() > 0.05
    assert torch.count_nonzero(cpu.head.classifier.bias) > 0
    assert "first_logits" not in cpu(torch.randn(2, 5, 64))


def test_own_loss_weights_the_terms():
    torch.manual_seed(0)
    student = tiny_student(cls_weight=0.5, feat_weight=2.0, past_weight=0.3)
    model = student.build(6, 4)
    x, y = torch.randn(3, 5, 6), torch.tensor([0, 1, 3])
    steps = torch.tensor([[0, 1, 2, 3, -100]] * 3)
    out = model(x)
    terms = avt_losses(out, y, steps)
    assert terms["past"].item() > 0
    total = student.own_loss(out, y, steps)
    torch.testing.assert_close(total, 0.5 * terms["cls"] + 2.0 * terms["feat"] + 0.3 * terms["past"])
    torch.testing.assert_close(student.own_loss(out, y), 0.5 * terms["cls"] + 2.0 * terms["feat"])
    assert AVTStudent.needs_step_labels


def _step_labels(data, split: str) -> np.ndarray:
    """Action in progress at every observed step (-100 where none), for the learning test."""
    samples = data.splits[split]
    out = np.full((len(samples), data.obs_steps), -100, dtype=np.int64)
    for i, s in enumerate(samples):
        for j, t in enumerate(data.obs_times(s)):
            for seg in data.timelines[s.video]:
                if seg.start <= t < seg.end:
                    out[i, j] = seg.action
    return out


def test_learns_on_synthetic_data():
    from accelerate import Accelerator

    from benchmark.run.training import TrainData, TrainSettings, train_and_evaluate
    from plugins.datasets.synthetic import SyntheticConfig, SyntheticKitchens
    from plugins.features.simulated import SimulatedFeatures
    from plugins.losses.none import NoDistill

    data = SyntheticKitchens(SyntheticConfig(train_videos=12, val_videos=8, segments_per_video=20,
                                             num_actions=12, obs_steps=6)).load(None)
    fs = SimulatedFeatures(SimulatedFeatures.Config(dim=32, noise=0.6))
    x_train, x_val = fs.load(data, "train"), fs.load(data, "val")
    y_train = np.array([s.target.action for s in data.splits["train"]])
    y_val = np.array([s.target.action for s in data.splits["val"]])
    torch.manual_seed(0)
    student = tiny_student(width=32, layers=1, dropout=0.1)
    train = {"epochs": 6, "batch_size": 32, "eval_batch_size": 256, "lr": 3e-3, "optimizer": "adamw",
             "weight_decay": 0.0, "momentum": 0.9, "grad_clip": 1.0}
    result = train_and_evaluate(
        student, NoDistill(),
        TrainData(x_train, y_train, x_val, data.classes.num_actions, step_train=_step_labels(data, "train")),
        TrainSettings(train, 0, Accelerator(cpu=True), logging.getLogger("test")))
    assert result.epoch_losses[-1] < 0.8 * result.epoch_losses[0]
    accuracy = float(np.mean(result.val_scores.argmax(1) == y_val))
    majority = float(np.mean(y_val == np.bincount(y_train).argmax()))
    assert accuracy > max(2.0 / data.classes.num_actions, majority + 0.05), (accuracy, majority)


def test_presets_follow_the_published_configs(plugins):
    names = set(plugins.registries["student"].names())
    assert {"avt", "avt-epic55", "avt-egtea", "avt-b"} <= names
    epic = AVTEpic55Student.Config()
    assert (epic.layers, epic.heads, epic.width, epic.dropout, epic.feat_weight, epic.past_weight) == \
        (12, 8, 2048, 0.8, 2.0, 0.0)
    # AVT expts/10, 11, 12: per-process batch and rate (x world size), cosine, Nesterov on 11 and 12
    assert AVTEpic55Student.train_defaults == {"optimizer": "adam", "lr": 5e-6, "weight_decay": 1e-4,
                                               "epochs": 20, "batch_size": 32, "schedule": "cosine",
                                               "lr_scaling": "world_size"}
    assert AVTEgteaStudent.train_defaults == {"optimizer": "sgd", "lr": 1e-3, "momentum": 0.9, "nesterov": True,
                                              "weight_decay": 1e-6, "epochs": 15, "batch_size": 64,
                                              "schedule": "cosine", "lr_scaling": "world_size"}
    assert AVTBStudent.train_defaults == {"optimizer": "sgd", "lr": 5e-4, "momentum": 0.9, "nesterov": True,
                                          "weight_decay": 1e-6, "epochs": 10, "batch_size": 3, "schedule": "cosine",
                                          "warmup_epochs": 5, "lr_scaling": "world_size"}
    b = AVTBStudent.Config()
    assert (b.augment, b.train_scale, b.flip_p, b.eval_scale, b.eval_crops, b.eval_flip, b.mean, b.std) == \
        ("avt", [248, 280], 0.5, 248, 3, True, [0.5] * 3, [0.5] * 3)
    for cls in (AVTEpic55Student, AVTEgteaStudent, AVTBStudent):
        assert cls.Config().init == "avt" and cls.Config().past_first_frame
    assert AVTStudent.Config().init == "torch" and not AVTStudent.Config().past_first_frame
    egtea = AVTEgteaStudent.Config()
    assert (egtea.layers, egtea.heads, egtea.width, egtea.dropout, egtea.past_weight) == (2, 4, 2048, 0.8, 0.1)
    b = AVTBStudent.Config()
    assert (b.backbone, b.layers, b.heads, b.width, b.dropout) == ("vit_base_patch16_224", 2, 4, 2048, 0.2)
    for cls in (AVTStudent, AVTEpic55Student, AVTEgteaStudent, AVTBStudent):
        assert cls.required_modalities == ("rgb",) and cls.needs_step_labels
        dataclasses.asdict(cls.Config())  # defaults are valid
    with pytest.raises(ConfigError, match="multiple of heads"):
        build_config(AVTStudent.Config, {"width": 30, "heads": 4}, "test")


def test_avt_b_on_generated_frames(tmp_path):
    from PIL import Image

    from benchmark.protocol import frames_of
    from plugins.datasets.synthetic import SyntheticConfig, SyntheticKitchens
    from plugins.features.frames import FrameFeatures, clear_cache

    data = SyntheticKitchens(SyntheticConfig(train_videos=2, val_videos=1, segments_per_video=3,
                                             obs_steps=3)).load(None)
    rng = np.random.default_rng(0)
    for s in data.splits["train"]:
        for f in frames_of(data.obs_times(s)):
            path = tmp_path / s.video / f"frame_{f:010d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)).save(path)
    clear_cache()
    fs = FrameFeatures(build_config(FrameFeatures.Config, {"root": str(tmp_path), "size": 24}, "test"))
    x = torch.from_numpy(fs.load(data, "train"))
    assert x.shape[-1] == 3 * 24 * 24

    student = tiny_student(AVTBStudent, **TINY_VIT)
    with pytest.raises(ConfigError, match="frame_shape"):
        student.build(x.shape[-1], 3)
    student.input_info = fs.last_info
    torch.manual_seed(0)
    model = student.build(x.shape[-1], 3)
    out = model(x)
    n, t = x.shape[:2]
    assert out["logits"].shape == (n, 3) and out["feature"].shape == (n, 32)
    assert out["observed"].shape == (n, t, 16) and out["predicted"].shape == (n, t, 16)
    loss = student.own_loss(out, torch.zeros(n, dtype=torch.long))
    loss.backward()
    assert model.backbone.model.patch_embed.proj.weight.grad is not None

    frozen = tiny_student(AVTBStudent, **TINY_VIT, freeze_backbone=True)
    frozen.input_info = fs.last_info
    model = frozen.build(x.shape[-1], 3).train()
    assert not model.backbone.model.training
    frozen.own_loss(model(x), torch.zeros(n, dtype=torch.long)).backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.head.classifier.weight.grad is not None


class _Recorder(torch.nn.Module):
    """Stands in for the timm model: records the frames it sees, returns their mean per channel."""

    num_features = 3

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, frames):
        self.seen.append(frames.detach().clone())
        return frames.mean(dim=(-2, -1))


def _pipeline(**kw):
    from plugins.students.avt_backbone import FrameBackbone

    cfg = build_config(AVTBStudent.Config, {**TINY_VIT, "augment": "avt", "image_size": 16, "train_scale": [18, 22],
                                            "eval_scale": 18, **kw}, "test")
    backbone = FrameBackbone(cfg, (3, 18, 24))
    backbone.model = _Recorder()
    return backbone


def test_avt_b_evaluation_averages_six_views_of_three_crops_and_their_flips():
    from plugins.students.avt_model import AVTNet

    torch.manual_seed(0)
    backbone = _pipeline()
    assert backbone.views == 6
    x = torch.rand(2, 3, 3 * 18 * 24)
    frames = x.reshape(6, 3, 18, 24)  # already at the eval scale (shorter side 18)
    # the views, cut here by hand: top-left, centre, bottom-right 16 px crops, each also flipped
    corners = [(0, 0), (1, 4), (2, 8)]
    views = []
    for top, left in corners:
        crop = frames[..., top:top + 16, left:left + 16]
        views += [crop, crop.flip(-1)]
    net = AVTNet(3, 5, AVTBStudent.Config(width=8, heads=2, layers=1, **{k: v for k, v in TINY_VIT.items()
                                                                          if k not in ("image_size", "augment")}),
                 backbone=backbone).eval()
    with torch.no_grad():
        out = net(x)
        mean, std = backbone.preprocess.mean, backbone.preprocess.std
        assert len(backbone.model.seen) == 6
        for seen, view in zip(backbone.model.seen, views):
            torch.testing.assert_close(seen, (view - mean) / std)
        per_view = [net.head((((v - mean) / std).mean(dim=(-2, -1))).reshape(2, 3, 3))["step_logits"][:, -1]
                    for v in views]
    torch.testing.assert_close(out["logits"], torch.stack(per_view).mean(0))
    # normalisation is AVT's 0.5 / 0.5
    assert mean.flatten().tolist() == [0.5] * 3 and std.flatten().tolist() == [0.5] * 3


def test_avt_b_training_view_is_a_random_scale_crop_and_flip_of_the_whole_clip():
    backbone = _pipeline(flip_p=1.0).train()
    x = torch.rand(1, 4, 3 * 18 * 24)
    torch.manual_seed(3)
    backbone(x)
    (seen,) = backbone.model.seen
    assert seen.shape == (4, 3, 16, 16)
    # redo the draws: shorter side in [18, 22], crop corner, then the flip (p = 1)
    torch.manual_seed(3)
    shorter = int(torch.randint(18, 23, ()).item())
    from plugins.students.avt_backbone import resize_shorter

    clip = resize_shorter(x.reshape(4, 3, 18, 24), shorter)
    h, w = clip.shape[-2:]
    assert min(h, w) == shorter and abs(w / h - 24 / 18) < 0.1  # aspect kept
    top = int(torch.randint(0, h - 16 + 1, ()).item())
    left = int(torch.randint(0, w - 16 + 1, ()).item())
    expected = clip[..., top:top + 16, left:left + 16].flip(-1)
    torch.testing.assert_close(seen, (expected - 0.5) / 0.5)


def test_avt_b_with_avts_pipeline_trains_and_evaluates_in_the_loop():
    import logging

    from accelerate import Accelerator

    from benchmark.run.training import TrainData, TrainSettings, train_and_evaluate
    from plugins.losses.none import NoDistill

    student = tiny_student(AVTBStudent, **{**TINY_VIT, "augment": "avt", "image_size": 16, "train_scale": [18, 22],
                                           "eval_scale": 18})
    student.input_info = {"frame_shape": [3, 18, 24]}
    x = np.random.default_rng(0).random((12, 3, 3 * 18 * 24)).astype(np.float32)
    y = np.arange(12) % 3
    steps = np.full((12, 3), -100)
    train = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.0,
             "grad_clip": 0.0, "batch_size": 4, "eval_batch_size": 6, "epochs": 2, "schedule": "cosine",
             "warmup_epochs": 1, "lr_scaling": "world_size"}
    result = train_and_evaluate(student, NoDistill(), TrainData(x, y, x[:5], 3, step_train=steps),
                                TrainSettings(train, 0, Accelerator(cpu=True), logging.getLogger("test")))
    assert result.val_scores.shape == (5, 3) and np.isfinite(result.val_scores).all()
    assert {k: result.optimization[k] for k in ("effective_lr", "global_batch", "processes", "steps_per_epoch")} == {
        "effective_lr": 0.01, "global_batch": 4, "processes": 1, "steps_per_epoch": 3}
