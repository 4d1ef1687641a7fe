"""timm image backbones for the students that train on frames and for ``bench features extract``:
creation (with did-you-mean on unknown names), local weights, and the frame preprocessing they
share (resize, normalise)."""
from __future__ import annotations

import difflib
import logging
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError

log = logging.getLogger(__name__)


def check_backbone_name(name: str, where: str = "backbone") -> None:
    """:class:`ConfigError` with close timm names when ``name`` is not a timm model."""
    import timm

    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"{where}: unknown timm model '{name}'.{hint} (see timm.list_models())")


def create_backbone(name: str, pretrained: bool = False, weights: str = "", image_size: int = 0,
                    kwargs: dict[str, Any] | None = None, where: str = "backbone") -> nn.Module:
    """A timm model returning pooled features (``num_classes=0``).

    ``image_size`` > 0 is passed as ``img_size`` to models that take it (ViTs need it to size
    their position embeddings); others accept any size as is."""
    import timm

    check_backbone_name(name, where)
    extra = dict(kwargs or {})
    if image_size and "img_size" not in extra:
        try:
            model = timm.create_model(name, pretrained=pretrained, num_classes=0, img_size=image_size, **extra)
        except TypeError:  # a model without an img_size argument (CNNs)
            model = timm.create_model(name, pretrained=pretrained, num_classes=0, **extra)
    else:
        model = timm.create_model(name, pretrained=pretrained, num_classes=0, **extra)
    if weights:
        load_weights(model, Path(os.path.expandvars(weights)).expanduser(), where)
    return model


def _read_state_dict(path: Path, where: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ConfigError(f"{where}: weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{where}: cannot read weights {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    for key in ("state_dict", "model", "state_dict_ema"):  # common checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{where}: {path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_weights(model: nn.Module, path: Path, where: str = "weights") -> None:
    """Load a local state dict into a headless timm model. Classifier weights in the file are
    ignored; the model's own checkpoint filter (e.g. ViT position-embedding resizing) is applied
    when timm has one; a backbone weight missing from the file, or a weight in the file that is
    neither the model's nor its classifier's, is an error (never a silently untrained model)."""
    state = _read_state_dict(path, where)
    filter_fn = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
    if callable(filter_fn):
        try:
            state = filter_fn(state, model)
        except Exception as exc:  # a filter for another layout: use the file as it is
            log.debug("checkpoint filter of %s skipped: %s", type(model).__name__, exc)
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in usable]
    if missing:
        wrong = [k for k in missing if k in state]
        what = f"{len(wrong)} with another shape, e.g. '{wrong[0]}'" if wrong else f"e.g. '{missing[0]}'"
        raise ConfigError(f"{where}: {path} lacks {len(missing)} weights of {type(model).__name__} ({what})")
    classifier = model.pretrained_cfg.get("classifier", "head") if hasattr(model, "pretrained_cfg") else "head"
    heads = tuple(f"{c}." for c in ([classifier] if isinstance(classifier, str) else classifier))
    unexpected = sorted(k for k in set(state) - set(usable) if not k.startswith(heads))
    if unexpected:
        raise ConfigError(f"{where}: {path} holds {len(unexpected)} weights that {type(model).__name__} does not have "
                          f"(e.g. '{unexpected[0]}'): a checkpoint of another model?")
    model.load_state_dict(usable, strict=True)
    skipped = sorted(set(state) - set(usable))
    if skipped:
        log.info("%s: %d classifier entries of %s not used (e.g. %s)", where, len(skipped), path, skipped[0])


def input_size(model: nn.Module, image_size: int = 0) -> tuple[int, int]:
    """The (H, W) frames are resized to: ``image_size`` if set, else the model's default."""
    if image_size:
        return image_size, image_size
    from timm.data import resolve_model_data_config

    size = resolve_model_data_config(model)["input_size"]
    return int(size[-2]), int(size[-1])


def mean_std(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Normalisation of the model's pretrained configuration (ImageNet's when it has none)."""
    from timm.data import resolve_model_data_config

    cfg = resolve_model_data_config(model)
    return tuple(cfg["mean"]), tuple(cfg["std"])


class FramePreprocess(nn.Module):
    """Frames ``[N, C, H, W]`` in [0, 1] -> resized (bilinear) and normalised backbone input."""

    def __init__(self, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if tuple(frames.shape[-2:]) != self.size:
            frames = F.interpolate(frames, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        return (frames - self.mean) / self.std
