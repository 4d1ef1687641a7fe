"""AVT students: the Anticipative Video Transformer head (AVT-h) on pre-extracted features, and
AVT-b + AVT-h, a per-frame timm image backbone trained end to end under the same head.

Architecture (Girdhar & Grauman, ICCV 2021; facebookresearch/AVT ``models/future_prediction.py``):
a bias-free linear encoder from the feature width D to the inner width H, a causal GPT-2 decoder
fed ``inputs_embeds`` with its own learned position embeddings, a bias-free linear decoder back
to D giving the predicted next feature at every step, and an action classifier (dropout, then
linear D -> C) on the predicted features. The scored logits are the classifier on the last step.

Losses (AVT ``func/train.py``): next-action cross-entropy, MSE between the prediction at step t
and the observed feature at t + 1 (not detached: with AVT-b the backbone learns from it too), and
("classifier on past") cross-entropy of the classifier on the prediction at t against the action
in progress at step t + 1, plus, with ``past_first_frame`` (the published presets, as AVT), the
classifier on the first observed feature against the first step's label.

Presets (AVT ``expts/*.txt``, the files the distillation paper reused unchanged, see
``docs/students.md``): ``avt-epic55`` = ``10_ek55_avt_ig65m``, ``avt-egtea`` =
``11_egtea_avt_tsn``, ``avt-b`` = ``12_egtea_avt``; ``avt`` is a small CPU-sized head.
"""
from __future__ import annotations

from typing import Any, ClassVar

from benchmark.api import Student
from benchmark.errors import ConfigError

from .config import AVTBConfig, AVTConfig, AVTEgteaConfig, AVTEpic55Config


class AVTStudent(Student):
    """AVT-h on pre-extracted features (the small CPU preset; see the other presets)."""

    name = "avt"
    #: 2: per-step past-action labels come from the sample's own split only
    version = "2"
    description = "AVT-h: causal GPT-2 over features, future-feature and past-action losses (small)"
    Config = AVTConfig
    required_modalities = ("rgb",)
    needs_step_labels = True
    train_defaults: ClassVar[dict[str, Any]] = {}

    def build(self, input_dim: int, num_classes: int) -> Any:
        from .avt_model import AVTNet

        return AVTNet(input_dim, num_classes, self.config)

    def own_loss(self, output: dict, targets: Any, step_targets: Any = None) -> Any:
        from .avt_model import avt_losses

        c = self.config
        terms = avt_losses(output, targets, step_targets if c.past_weight else None, c.past_first_frame)
        loss = c.cls_weight * terms["cls"]
        if c.feat_weight:
            loss = loss + c.feat_weight * terms["feat"]
        if c.past_weight:
            loss = loss + c.past_weight * terms["past"]
        return loss


class AVTEpic55Student(AVTStudent):
    """The published EPIC-55 AVT-h on irCSN-152 features (AVT ``expts/10_ek55_avt_ig65m.txt``):
    Adam, lr 5e-6 per process (x the number of processes, 4 GPUs in AVT), wd 1e-4, 20 epochs
    of cosine decay, batch 32 per process."""

    name = "avt-epic55"
    description = "AVT-h, published EPIC-55 head (12 layers, 8 heads, 2048 wide, dropout 0.8)"
    Config = AVTEpic55Config
    train_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": "adam", "lr": 5e-6, "weight_decay": 1e-4, "epochs": 20, "batch_size": 32,
        "schedule": "cosine", "lr_scaling": "world_size",
    }


class AVTEgteaStudent(AVTStudent):
    """The published EGTEA AVT-h on TSN features (AVT ``expts/11_egtea_avt_tsn.txt``): SGD with
    Nesterov momentum 0.9, lr 1e-3 per process (x the number of processes, 2 GPUs in AVT), wd
    1e-6, 15 epochs of cosine decay, batch 64 per process."""

    name = "avt-egtea"
    description = "AVT-h, published EGTEA head on TSN features (2 layers, 4 heads, 2048 wide)"
    Config = AVTEgteaConfig
    train_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": "sgd", "lr": 1e-3, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-6, "epochs": 15,
        "batch_size": 64, "schedule": "cosine", "lr_scaling": "world_size",
    }


class AVTBStudent(AVTStudent):
    """AVT-b + AVT-h: a timm backbone on every frame (input from the ``frames`` feature source),
    its pooled feature feeding AVT-h. Defaults are the EGTEA model of the distillation paper
    (AVT ``expts/12_egtea_avt.txt``): SGD with Nesterov momentum 0.9, lr 5e-4 per process
    (x the number of processes: 0.016 on AVT's 32 GPUs), wd 1e-6, 10 epochs: 5 of linear
    warm-up, then cosine decay to 0; batch 3 per process (96 on 32 GPUs)."""

    name = "avt-b"
    description = "AVT-b + AVT-h: timm image backbone per frame under the AVT head (end to end)"
    Config = AVTBConfig
    train_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": "sgd", "lr": 5e-4, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-6, "epochs": 10,
        "batch_size": 3, "schedule": "cosine", "warmup_epochs": 5, "lr_scaling": "world_size",
    }

    def input_problem(self, info: dict[str, Any]) -> str | None:
        shape = info.get("frame_shape")
        if not shape or len(shape) != 3:
            return (f"student {self.name} trains its backbone on raw frames: the feature source reports no "
                    "frame_shape [C, H, W]; use feature_source 'frames'")
        return None

    def frame_shape(self, input_dim: int) -> tuple[int, int, int]:
        """``(C, H, W)`` of the flattened frames, from the feature source's ``frame_shape``."""
        info = self.input_info or {}
        shape = info.get("frame_shape")
        if not shape or len(shape) != 3:
            raise ConfigError(
                f"student {self.name}: the feature source reports no frame_shape [C, H, W]; "
                "use feature_source 'frames' (raw JPEG frames) with this student"
            )
        c, h, w = (int(v) for v in shape)
        if c * h * w != input_dim:
            raise ConfigError(
                f"student {self.name}: frame_shape {list(shape)} has {c * h * w} values but the "
                f"features are {input_dim} wide"
            )
        return c, h, w

    def build(self, input_dim: int, num_classes: int) -> Any:
        from .avt_backbone import FrameBackbone
        from .avt_model import AVTNet

        backbone = FrameBackbone(self.config, self.frame_shape(input_dim))
        return AVTNet(backbone.feature_dim, num_classes, self.config, backbone=backbone)
