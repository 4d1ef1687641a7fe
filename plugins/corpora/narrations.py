"""EPIC-Kitchens' free-text narrations of the training videos (``open door``, ``turn on light``):
in-domain language that is not the class vocabulary."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from benchmark.api import AnticipationData, Corpus
from benchmark.errors import DataError
from plugins.datasets.parsing import read_epic_narrations

from .action_sequences import ActionSequencesConfig, windows

NARRATIONS = Path("epic55") / "official" / "EPIC_train_action_narrations.csv"


@dataclass
class NarrationsConfig(ActionSequencesConfig):
    """Same windowing as ``action-sequences``: ``max_actions`` narrations per line, ``stride``."""


class EpicNarrationsCorpus(Corpus):
    name = "epic-narrations"
    version = "1"
    description = "EPIC-55 narrations of the training videos only (validation videos excluded)"
    Config = NarrationsConfig

    def lines(self, data: AnticipationData, data_dir: Path | None) -> Iterator[str]:
        """Narrations per video ordered by start, joined by `` <a> ``, for the videos of
        ``data.splits["train"]`` only. The official file also narrates the videos of the RULSTM
        validation split, which are therefore left out; only ``epic55`` defines that split."""
        if data.name != "epic55":
            raise ValueError(
                f"epic-narrations corpus: serves only the epic55 dataset, not {data.name!r} (the narrations "
                f"file covers EPIC-55 videos, and only epic55 tells which of them are validation videos)")
        if data_dir is None:
            raise DataError("epic-narrations corpus: no data directory (use --data-dir or BENCH_DATA_DIR)")
        c = self.config
        stride = c.stride or c.max_actions
        train_videos = {s.video for s in data.splits["train"]}
        by_video: dict[str, list[tuple[float, int, str]]] = {}
        for i, (video, start, text) in enumerate(read_epic_narrations(Path(data_dir) / NARRATIONS)):
            if video in train_videos and text:
                by_video.setdefault(video, []).append((start, i, " ".join(text.split())))
        texts = [[t for _, _, t in sorted(rows)] for _, rows in sorted(by_video.items())]

        def generate() -> Iterator[str]:
            for seq in texts:
                for start, end in windows(len(seq), c.max_actions, stride):
                    yield " <a> ".join(seq[start:end])

        return generate()
