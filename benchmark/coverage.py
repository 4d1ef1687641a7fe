"""The coverage policy of feature sources that read files: how many needed frames may be missing.

A source reading pre-extracted features or frames looks up every (video, frame) a split needs,
then (``search_back``) up to that many frames earlier. What is still missing is counted per
split and modality. Above ``max_missing`` (a share, default 0.1 %) the cell fails before
training, naming the modality, the count, the share and three example keys: an LMDB that holds
only some videos' keys or the wrong split must not give a clean-looking row on zero features.
Below it, the missing frames are zero-filled and counted; every record says how many
(``zero_filled_frames``) and so does its leaderboard row. ``missing: zeros`` is the explicit
opt-in to zero-filling more, up to ``max_zero_filled``.

Sources declare the three keys through :class:`CoverageConfig` (a dataclass base of their
``Config``) and call :func:`enforce` once per split and modality.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .checks import Finding
from .errors import DataError
from .settings import setting

MissingPolicy = Literal["error", "zeros"]
EXAMPLES = 3


@dataclass
class CoverageConfig:
    """The coverage keys of a file-reading feature source's config."""

    #: "error": a split and modality missing more than ``max_missing`` of its frames fails the
    #: cell; "zeros": zero-fill them, up to ``max_zero_filled`` (the explicit opt-in)
    missing: MissingPolicy = "error"
    max_missing: float = setting(0.001, ge=0.0, le=1.0)
    max_zero_filled: float = setting(1.0, ge=0.0, le=1.0)

    def missing_limit(self) -> float:
        """The share of a split's frames per modality that may be zero-filled."""
        return self.max_zero_filled if self.missing == "zeros" else self.max_missing


@dataclass
class Coverage:
    """What one modality of one split lacks, after the search back."""

    modality: str
    split: str
    needed: int  # unique (video, frame) keys the split reads
    missing: int = 0  # still absent after the search back: zero-filled
    searched_back: int = 0  # found only at an earlier frame
    examples: list[str] = field(default_factory=list)  # the first missing keys

    @property
    def fraction(self) -> float:
        return self.missing / self.needed if self.needed else 0.0

    def note_missing(self, key: str) -> None:
        self.missing += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(key)

    def exceeds(self, limit: float) -> bool:
        """Whether more than ``limit`` (a share) of the needed frames is missing."""
        return self.fraction > limit

    def finding(self, limit: float, where: str, found: str) -> Finding:
        """The ``bench data doctor`` line: ``error`` above ``limit``, ``warning`` below it with
        frames missing, ``ok`` with ``found`` otherwise."""
        if not self.missing:
            return Finding("ok", f"{where}{found}")
        level = "error" if self.exceeds(limit) else "warning"
        return Finding(level, f"{where}{self.describe()}; the limit is {percent(limit)}")

    def describe(self) -> str:
        """``12 of 101,298 frames missing (0.0118 %), e.g. a, b, c``."""
        text = f"{self.missing:,} of {self.needed:,} frames missing ({percent(self.fraction)})"
        return text + (f", e.g. {', '.join(self.examples)}" if self.examples else "")


def percent(fraction: float) -> str:
    return f"{100.0 * fraction:.3g} %"


def enforce(source: str, coverage: Coverage, config: CoverageConfig) -> None:
    """:class:`DataError` (the cell fails before training) when ``coverage`` misses more than
    the config allows; the message names the split, the modality, the count, the share and
    example keys."""
    limit = config.missing_limit()
    if not coverage.exceeds(limit):
        return
    key = "max_zero_filled" if config.missing == "zeros" else "max_missing"
    hint = ("" if config.missing == "zeros" else
            "; check the source's paths, or opt in to zero-filling with missing: zeros")
    raise DataError(f"feature source {source}: split '{coverage.split}', modality '{coverage.modality}': "
                    f"{coverage.describe()}; more than {key} = {percent(limit)}{hint}")


def enforce_info(source: str, split: str, info: dict[str, Any], config: CoverageConfig) -> None:
    """:func:`enforce` for every modality a source's ``info`` (``frames``, ``missing``,
    ``searched_back``, ``missing_examples``) reports for ``split``."""
    for modality, missing in (info.get("missing") or {}).items():
        enforce(source, Coverage(modality, split, int(info.get("frames", 0)), int(missing),
                                 int((info.get("searched_back") or {}).get(modality, 0)),
                                 list((info.get("missing_examples") or {}).get(modality, []))), config)


def info_entries(coverages: list[Coverage]) -> dict[str, Any]:
    """The ``missing`` / ``searched_back`` / ``missing_examples`` entries of a source's info."""
    examples = {c.modality: list(c.examples) for c in coverages if c.examples}
    return {"missing": {c.modality: c.missing for c in coverages},
            "searched_back": {c.modality: c.searched_back for c in coverages},
            **({"missing_examples": examples} if examples else {})}


def zero_filled_frames(feature_info: dict[str, Any]) -> int:
    """Frames zero-filled over every split and modality of a record's ``feature_info``."""
    return int(sum(sum((split_info.get("missing") or {}).values())
                   for split_info in (feature_info or {}).values() if isinstance(split_info, dict)))


ZERO_FILLED_MARK = "frames zero-filled"
#: the leaderboard note under a table with such rows
ZERO_FILLED_NOTE = ("Rows labelled `frames zero-filled` trained or scored on features with that many needed frames "
                    "missing (zero vectors in their place, within the source's coverage policy); their numbers are "
                    "not those of clean features.")


def zero_filled_label(count: int) -> str:
    """What a leaderboard row with zero-filled frames says next to its other labels."""
    return f"{count:,} {ZERO_FILLED_MARK}" if count else ""
