"""Leaderboards in layers: :mod:`.model` (rows, Δ, relative gain, paired test, notes as data) at
the bottom; one renderer per format on it (:mod:`.markdown`, :mod:`.latex`, :mod:`.html`,
:mod:`.plots`, the CSV in :mod:`.writer`), none importing another; :mod:`.writer` on top."""
from .markdown import render_markdown
from .model import OURS, Leaderboard, build, paired_test
from .writer import write, write_matrix

__all__ = ["OURS", "Leaderboard", "build", "paired_test", "render_markdown", "write", "write_matrix"]
