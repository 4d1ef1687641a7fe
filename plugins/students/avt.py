"""AVT students: the Anticipative Video Transformer head (AVT-h) on pre-extracted features, and
AVT-b + AVT-h, a per-frame timm image backbone trained end to end under the same head.

Architecture (Girdhar & Grauman, ICCV 2021; facebookresearch/AVT ``models/future_prediction.py``):
a bias-free linear encoder from the feature width D to the inner width H, a causal GPT-2 decoder
fed ``inputs_embeds`` with its own learned position embeddings, a bias-free linear decoder back
to D giving the predicted next feature at every step, and an action classifier (dropout, then
linear D -> C) on the predicted features. The scored logits are the classifier on the last step.

Losses (AVT ``func/train.py``): next-action cross-entropy, MSE between the prediction at step t
and the observed feature at t + 1, and ("classifier on past") cross-entropy of the classifier on
the prediction at t against the action in progress at step t + 1.

Presets (AVT ``expts/*.txt``, the files the distillation paper reused unchanged, see
``docs/students.md``): ``avt-epic55`` = ``10_ek55_avt_ig65m``, ``avt-egtea`` =
``11_egtea_avt_tsn``, ``avt-b`` = ``12_egtea_avt``; ``avt`` is a small CPU-sized head.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from benchmark.api import Student
from benchmark.errors import ConfigError


@dataclass
class AVTConfig:
    width: int = 128  # H, GPT-2's n_embd (AVT's inter_dim)
    layers: int = 2  # GPT-2 blocks (n_layer)
    heads: int = 4  # attention heads (n_head)
    dropout: float = 0.2  # before the action classifier (AVT's model.dropout)
    gpt_dropout: float = 0.1  # GPT-2's embedding, attention and residual dropout (its default, kept by AVT)
    max_steps: int = 64  # GPT-2 positions (n_positions): the longest sequence the head accepts
    cls_weight: float = 1.0  # next-action cross-entropy
    feat_weight: float = 1.0  # future-feature regression (MSE)
    past_weight: float = 0.1  # past-action cross-entropy on the per-step predictions

    def __post_init__(self) -> None:
        for key in ("width", "layers", "heads", "max_steps"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        for key in ("dropout", "gpt_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ValueError(f"{key} must be in [0, 1), got {getattr(self, key)}")
        for key in ("cls_weight", "feat_weight", "past_weight"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")


@dataclass
class AVTEpic55Config(AVTConfig):
    """``expts/10_ek55_avt_ig65m.txt``: irCSN-152 features, 12 layers, 8 heads, inter_dim 2048,
    dropout 0.8, feat loss weight 2.0, no classifier on past (AVT's default past weight 0)."""

    width: int = 2048
    layers: int = 12
    heads: int = 8
    dropout: float = 0.8
    feat_weight: float = 2.0
    past_weight: float = 0.0


@dataclass
class AVTEgteaConfig(AVTConfig):
    """``expts/11_egtea_avt_tsn.txt``: TSN features, 2 layers, 4 heads, inter_dim 2048,
    dropout 0.8, feat 1.0, past_cls_action 0.1."""

    width: int = 2048
    layers: int = 2
    heads: int = 4
    dropout: float = 0.8
    feat_weight: float = 1.0
    past_weight: float = 0.1


@dataclass
class AVTBConfig(AVTConfig):
    """``expts/12_egtea_avt.txt``: ViT-B/16 at 224 px per frame + AVT-h with 2 layers, 4 heads,
    inter_dim 2048, dropout 0.2, feat 1.0, past_cls_action 0.1."""

    width: int = 2048
    layers: int = 2
    heads: int = 4
    dropout: float = 0.2
    backbone: str = "vit_base_patch16_224"  # any timm model name
    pretrained: bool = False  # timm hub weights (needs network access or a filled hub cache)
    weights: str = ""  # local .safetensors (or .pth/.pt, read with weights_only) state dict
    freeze_backbone: bool = False  # keep the backbone fixed (eval mode, no gradients)
    image_size: int = 0  # frames are resized to this square size; 0: the backbone's default
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)  # extra timm.create_model kwargs

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.backbone:
            raise ValueError("backbone must name a timm model, e.g. vit_base_patch16_224")
        if self.image_size < 0:
            raise ValueError(f"image_size must be >= 0, got {self.image_size}")


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
        terms = avt_losses(output, targets, step_targets if c.past_weight else None)
        loss = c.cls_weight * terms["cls"]
        if c.feat_weight:
            loss = loss + c.feat_weight * terms["feat"]
        if c.past_weight:
            loss = loss + c.past_weight * terms["past"]
        return loss


class AVTEpic55Student(AVTStudent):
    """The published EPIC-55 AVT-h on irCSN-152 features (AVT ``expts/10_ek55_avt_ig65m.txt``):
    Adam, lr 5e-6, wd 1e-4, 20 epochs, batch 32 (AVT also uses a cosine schedule, not modelled)."""

    name = "avt-epic55"
    description = "AVT-h, published EPIC-55 head (12 layers, 8 heads, 2048 wide, dropout 0.8)"
    Config = AVTEpic55Config
    train_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": "adam", "lr": 5e-6, "weight_decay": 1e-4, "epochs": 20, "batch_size": 32,
    }


class AVTEgteaStudent(AVTStudent):
    """The published EGTEA AVT-h on TSN features (AVT ``expts/11_egtea_avt_tsn.txt``):
    SGD (momentum 0.9, Nesterov in AVT), lr 1e-3, wd 1e-6, 15 epochs, batch 64."""

    name = "avt-egtea"
    description = "AVT-h, published EGTEA head on TSN features (2 layers, 4 heads, 2048 wide)"
    Config = AVTEgteaConfig
    train_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": "sgd", "lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-6, "epochs": 15,
        "batch_size": 64,
    }


class AVTBStudent(AVTStudent):
    """AVT-b + AVT-h: a timm backbone on every frame (input from the ``frames`` feature source),
    its pooled feature feeding AVT-h. Defaults are the EGTEA model of the distillation paper
    (AVT ``expts/12_egtea_avt.txt``): SGD (Nesterov in AVT), lr 5e-4, wd 1e-6, 10 epochs (5 of
    them warm-up), batch 3 per GPU on 32 GPUs (96)."""

    name = "avt-b"
    description = "AVT-b + AVT-h: timm image backbone per frame under the AVT head (end to end)"
    Config = AVTBConfig
    train_defaults: ClassVar[dict[str, Any]] = {
        "optimizer": "sgd", "lr": 5e-4, "momentum": 0.9, "weight_decay": 1e-6, "epochs": 10,
        "batch_size": 96,
    }

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
