"""The image backbone of AVT-b: a timm model (created by :mod:`benchmark.backbones`) with the
shorter-side resize and multi-crop evaluation of the reference code."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.backbones import FramePreprocess, create_backbone, input_size, mean_std


def resize_shorter(frames: torch.Tensor, shorter: int) -> torch.Tensor:
    """``[N, C, H, W]`` resized (bilinear) so that its shorter side is ``shorter``, aspect kept."""
    h, w = frames.shape[-2:]
    scale = shorter / min(h, w)
    size = (max(shorter, round(h * scale)), max(shorter, round(w * scale)))
    if size == (h, w):
        return frames
    return F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=True)


def crop_offsets(h: int, w: int, size: int, crops: int) -> list[tuple[int, int]]:
    """Top-left corners of ``crops`` evaluation crops of ``size`` along the diagonal of an
    ``h`` x ``w`` frame: the centre for 1; top-left, centre and bottom-right for 3 (AVT's
    ``eval_num_crops``)."""
    if h < size or w < size:
        raise ValueError(f"AVT-b: a {size} px crop does not fit frames of {h} x {w}; lower image_size")
    centre = ((h - size) // 2, (w - size) // 2)
    if crops == 1:
        return [centre]
    if crops == 3:
        return [(0, 0), centre, (h - size, w - size)]
    raise ValueError(f"AVT-b: eval_crops must be 1 or 3, got {crops}")


class FrameBackbone(nn.Module):
    """AVT-b's per-frame stage: ``[B, T, C*H*W]`` flattened frames -> ``[B, T, feature_dim]``.

    With ``augment: avt`` (AVT ``12_egtea_avt``): in training each clip is resized to a random
    shorter side in ``train_scale``, cropped at a random ``image_size`` square and flipped with
    probability ``flip_p`` (the same for all its frames); in evaluation, view ``v`` of
    :attr:`views` is one of ``eval_crops`` crops of the clip resized to ``eval_scale``, flipped
    when ``eval_flip`` and ``v`` is odd. With ``augment: resize`` frames are resized to the
    input size, as the backbone's own preprocessing does."""

    def __init__(self, cfg: Any, frame_shape: tuple[int, int, int]):
        super().__init__()
        where = "student avt-b"
        self.model = create_backbone(cfg.backbone, cfg.pretrained, cfg.weights, cfg.image_size,
                                     cfg.backbone_kwargs, where)
        self.frame_shape = tuple(frame_shape)
        mean, std = (tuple(cfg.mean), tuple(cfg.std)) if cfg.mean else mean_std(self.model)
        self.size = input_size(self.model, cfg.image_size)
        self.preprocess = FramePreprocess(self.size, mean, std)
        self.feature_dim = int(self.model.num_features)
        self.augment = cfg.augment
        self.train_scale = tuple(cfg.train_scale)
        self.flip_p = float(cfg.flip_p)
        self.eval_scale = int(cfg.eval_scale)
        self.eval_crops = int(cfg.eval_crops)
        self.eval_flip = bool(cfg.eval_flip)
        self.freeze = bool(cfg.freeze_backbone)
        if self.freeze:
            self.model.requires_grad_(False)
            self.model.eval()

    @property
    def views(self) -> int:
        """Evaluation views whose outputs are averaged (AVT-b: 3 crops x 2 flips = 6)."""
        if self.augment != "avt":
            return 1
        return self.eval_crops * (2 if self.eval_flip else 1)

    def _train_view(self, clip: torch.Tensor) -> torch.Tensor:
        """One clip ``[T, C, H, W]``: random scale, random crop, random flip."""
        lo, hi = self.train_scale
        shorter = int(torch.randint(lo, hi + 1, ()).item())
        clip = resize_shorter(clip, shorter)
        size = self.size[0]
        h, w = clip.shape[-2:]
        if h < size or w < size:
            raise ValueError(f"AVT-b: a {size} px crop does not fit frames of {h} x {w}; raise train_scale")
        top = int(torch.randint(0, h - size + 1, ()).item())
        left = int(torch.randint(0, w - size + 1, ()).item())
        clip = clip[..., top:top + size, left:left + size]
        if float(torch.rand(())) < self.flip_p:
            clip = clip.flip(-1)
        return clip

    def _eval_view(self, frames: torch.Tensor, view: int) -> torch.Tensor:
        frames = resize_shorter(frames, self.eval_scale)
        size = self.size[0]
        top, left = crop_offsets(*frames.shape[-2:], size, self.eval_crops)[view // (2 if self.eval_flip else 1)]
        frames = frames[..., top:top + size, left:left + size]
        return frames.flip(-1) if self.eval_flip and view % 2 else frames

    def forward(self, x: torch.Tensor, view: int = 0) -> torch.Tensor:
        b, t, _ = x.shape
        frames = x.reshape(b * t, *self.frame_shape).float()
        if self.augment == "avt":
            if self.training:
                frames = torch.cat([self._train_view(clip) for clip in frames.reshape(b, t, *frames.shape[1:])])
            else:
                frames = self._eval_view(frames, view)
        frames = self.preprocess(frames)
        if self.freeze:
            with torch.no_grad():
                feats = self.model(frames)
        else:
            feats = self.model(frames)
        return feats.reshape(b, t, -1)

    def train(self, mode: bool = True) -> "FrameBackbone":
        super().train(mode)
        if self.freeze:  # a frozen backbone keeps its normalisation statistics and no dropout
            self.model.eval()
        return self

