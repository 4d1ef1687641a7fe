"""The training split's own action sequences, verbalised: the in-domain text closest to what a
text teacher reads at fit time."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from benchmark.api import AnticipationData, Corpus, Segment
from benchmark.settings import setting


def windows(n: int, size: int, stride: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` windows of at most ``size`` items every ``stride`` items, covering
    ``range(n)``; stops at the first window that reaches the end (no redundant tails)."""
    start = 0
    while start < n:
        end = min(start + size, n)
        yield start, end
        if end == n:
            return
        start += stride


@dataclass
class ActionSequencesConfig:
    max_actions: int = setting(32, ge=1)  # actions per line
    stride: int = setting(0, ge=0)  # actions between the starts of consecutive lines; 0: max_actions (no overlap)

    def __post_init__(self) -> None:
        if self.stride > self.max_actions:
            raise ValueError(f"stride must be between 0 (= max_actions) and max_actions ({self.max_actions}), "
                             f"got {self.stride}")


class ActionSequencesCorpus(Corpus):
    name = "action-sequences"
    version = "1"
    description = "verbalised action sequences of the training split, per video (never a validation segment)"
    Config = ActionSequencesConfig

    def lines(self, data: AnticipationData, data_dir: Path | None) -> Iterator[str]:
        """One line per window of a video's training targets, ordered by start, joined by `` <a> ``.

        Only the targets of ``data.splits["train"]`` are read: never a timeline, never a history
        (EGTEA's histories may hold validation clips with ``history_source: all``)."""
        c = self.config
        stride = c.stride or c.max_actions
        by_video: dict[str, list[Segment]] = {}
        for sample in data.splits["train"]:
            by_video.setdefault(sample.video, []).append(sample.target)
        texts = [[data.classes.text(s.action) for s in sorted(segs, key=lambda s: (s.start, s.end))]
                 for _, segs in sorted(by_video.items())]

        def generate() -> Iterator[str]:
            for seq in texts:
                for start, end in windows(len(seq), c.max_actions, stride):
                    yield " <a> ".join(seq[start:end])

        return generate()
