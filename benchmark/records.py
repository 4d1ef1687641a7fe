"""Rules that read a cell record, shared by every renderer."""
from __future__ import annotations

from typing import Any

from .coverage import zero_filled_label


def row_label(record: dict[str, Any]) -> str:
    """The ``label`` of a record's leaderboard row: its own (``best val epoch``), then how many
    frames its features zero-filled, so such a row is never mistaken for a clean one."""
    parts = (record.get("row_label", ""), zero_filled_label(int(record.get("zero_filled_frames", 0) or 0)))
    return "; ".join(p for p in parts if p)
