"""Where a frame lives: the file of one frame under a frames folder, and its key in an LMDB of
features (the RULSTM / AVT layout). The ``frames`` and ``lmdb`` feature sources and
``bench features extract`` share these conventions.

File names come from a template with the placeholders ``{video}``, ``{participant}`` (the video
id up to its first ``_``) and ``{frame}`` (the frame number on the 30 fps clock of
:mod:`benchmark.protocol`), e.g. ``{participant}/{video}/frame_{frame:010d}.jpg``.
"""
from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from .errors import ConfigError

PLACEHOLDERS = ("video", "participant", "frame")


def participant_of(video: str) -> str:
    """``P01`` for ``P01_02``; the whole id when it has no ``_``."""
    return video.split("_", 1)[0]


def check_template(template: str, where: str = "template") -> None:
    """:class:`ConfigError` unless ``template`` formats with the known placeholders."""
    fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    unknown = [f for f in fields if f not in PLACEHOLDERS]
    if unknown or "frame" not in fields or "video" not in fields:
        what = f"unknown placeholder {{{unknown[0]}}}" if unknown else "it needs both {video} and {frame}"
        raise ConfigError(f"{where} {template!r}: {what}; use {{video}}, {{participant}} and {{frame}} "
                          "(e.g. '{video}/frame_{frame:010d}.jpg')")
    try:
        frame_relpath(template, "P01_02", 1)
    except (ValueError, IndexError, KeyError) as exc:
        raise ConfigError(f"{where} {template!r}: cannot format it ({exc})") from None


def frame_relpath(template: str, video: str, frame: int) -> str:
    """The file of one frame, relative to the frames root."""
    return template.format(video=video, participant=participant_of(video), frame=int(frame))


def decode(path: Path | str, size: int | tuple[int, int], keep_aspect: bool = False) -> np.ndarray:
    """One image as uint8 ``[3, H, W]`` (RGB, bilinear resize to ``size`` = S or (H, W));
    ``keep_aspect``: scaled to cover (H, W) and centre-cropped instead of squashed."""
    from PIL import Image

    h, w = (size, size) if isinstance(size, int) else size
    with Image.open(path) as img:
        img = img.convert("RGB")
        if keep_aspect and img.size != (w, h):
            scale = max(w / img.size[0], h / img.size[1])
            cover = (max(w, round(img.size[0] * scale)), max(h, round(img.size[1] * scale)))
            img = img.resize(cover, Image.Resampling.BILINEAR)
            left, top = (cover[0] - w) // 2, (cover[1] - h) // 2
            img = img.crop((left, top, left + w, top + h))
        elif img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def frame_key(video: str, frame: int) -> bytes:
    """The LMDB key of one frame, e.g. ``P01_02_frame_0000000152.jpg``."""
    return f"{video}_frame_{frame:010d}.jpg".encode("utf-8")
