"""The configurations of the built-in students, torch-free: read by the components (validation,
`bench components`) and by the models, so that neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from benchmark.settings import setting


@dataclass
class GRUStudentConfig:
    hidden: int = setting(128, ge=1)
    layers: int = setting(1, ge=1)
    dropout: float = setting(0.2, ge=0.0, lt=1.0)


@dataclass
class AVTConfig:
    width: int = setting(128, ge=1)  # H, GPT-2's n_embd (AVT's inter_dim)
    layers: int = setting(2, ge=1)  # GPT-2 blocks (n_layer)
    heads: int = setting(4, ge=1)  # attention heads (n_head)
    dropout: float = setting(0.2, ge=0.0, lt=1.0)  # before the action classifier (AVT's model.dropout)
    gpt_dropout: float = setting(0.1, ge=0.0, lt=1.0)  # GPT-2's embedding, attention and residual dropout (its default, kept by AVT)
    max_steps: int = setting(64, ge=1)  # GPT-2 positions (n_positions): the longest sequence the head accepts
    cls_weight: float = setting(1.0, ge=0.0)  # next-action cross-entropy
    feat_weight: float = setting(1.0, ge=0.0)  # future-feature regression (MSE)
    past_weight: float = setting(0.1, ge=0.0)  # past-action cross-entropy on the per-step predictions
    # AVT's classifier_on_past scores [observed step 0, predictions for steps 1..T-1] against the
    # labels of steps 0..T-1; False: the predictions for steps 1..T-1 only (the CPU preset)
    past_first_frame: bool = False
    # "avt": linear layers N(0, 0.01), biases 0, as AVT's base model (GPT-2's own layers keep
    # theirs); "torch": PyTorch's defaults
    init: Literal["avt", "torch"] = "torch"

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")


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
    past_first_frame: bool = True
    init: Literal["avt", "torch"] = "avt"


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
    past_first_frame: bool = True
    init: Literal["avt", "torch"] = "avt"


@dataclass
class AVTBConfig(AVTConfig):
    """``expts/12_egtea_avt.txt``: ViT-B/16 at 224 px per frame + AVT-h with 2 layers, 4 heads,
    inter_dim 2048, dropout 0.2, feat 1.0, past_cls_action 0.1."""

    width: int = 2048
    layers: int = 2
    heads: int = 4
    dropout: float = 0.2
    past_first_frame: bool = True
    init: Literal["avt", "torch"] = "avt"
    backbone: str = "vit_base_patch16_224"  # any timm model name
    pretrained: bool = False  # timm hub weights (needs network access or a filled hub cache)
    weights: str = ""  # local .safetensors (or .pth/.pt, read with weights_only) state dict; $VARS expand
    freeze_backbone: bool = False  # keep the backbone fixed (eval mode, no gradients)
    image_size: int = setting(0, ge=0)  # the backbone's square input (AVT's crop_size); 0: the backbone's default (224)
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)  # extra timm.create_model kwargs
    # AVT's frame pipeline (12_egtea_avt): "avt" = random shorter side in train_scale, random
    # image_size crop, horizontal flip (flip_p) in training; eval_crops crops (x2 with eval_flip)
    # of the clip resized to eval_scale, outputs averaged; "resize" = frames resized to the input
    augment: Literal["avt", "resize"] = "avt"
    train_scale: list[int] = setting(default_factory=lambda: [248, 280], ge=1)
    flip_p: float = setting(0.5, ge=0.0, le=1.0)
    eval_scale: int = setting(248, ge=1)
    eval_crops: Literal[1, 3] = 3
    eval_flip: bool = True
    # normalisation of [0, 1] frames; empty: the backbone's pretrained configuration
    mean: list[float] = setting(default_factory=lambda: [0.5, 0.5, 0.5], ge=0.0, le=1.0)
    std: list[float] = setting(default_factory=lambda: [0.5, 0.5, 0.5], gt=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.backbone:
            raise ValueError("backbone must name a timm model, e.g. vit_base_patch16_224")
        if len(self.train_scale) != 2 or self.train_scale[0] > self.train_scale[1]:
            raise ValueError(f"train_scale: expected [low, high] with low <= high, got {self.train_scale}")
        if len(self.mean) != len(self.std) or (self.mean and len(self.mean) != 3):
            raise ValueError("mean and std: expected both empty or both with 3 values")


@dataclass
class RULSTMConfig:
    hidden: int = setting(128, ge=1)
    dropout: float = setting(0.5, ge=0.0, lt=1.0)  # on the inputs, before the classifier and inside MATT, as in the reference
    ant_steps: int = setting(8, ge=1)  # the last steps that get a prediction (RULSTM's S_ant); must cover tau_a
    unroll_extra: int = setting(1, ge=0)  # step spacings between the last given step and the action start
    sc_epochs: int = setting(2, ge=0)  # sequence-completion pretraining epochs (0: none)
    modalities: list[str] = field(default_factory=list)  # branches; [] = every modality in the layout
    # "joint": one run, every branch and MATT together; "reference": RULSTM's runs (sequence
    # completion then anticipation per branch, each from the previous run's selected weights with
    # a fresh optimiser, then MATT over the trained branches), each run ending on its epoch of
    # best validation top-5 at the scored step
    stages: Literal["joint", "reference"] = "joint"
    fusion_epochs: int = setting(0, ge=0)  # with stages: reference, epochs of the MATT run (0: train.epochs)

    def __post_init__(self) -> None:
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities: expected distinct names, got {self.modalities}")


@dataclass
class RULSTMPaperConfig(RULSTMConfig):
    """The published sizes (``RULSTM/main.py`` defaults, ``train_anticipation_ek55.sh``)."""

    hidden: int = 1024
    dropout: float = 0.8
    sc_epochs: int = 100
    stages: Literal["joint", "reference"] = "reference"
    fusion_epochs: int = 100
