"""The shape of a cell record and the rules that read one, shared by the runner, the worker and
every renderer."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .coverage import zero_filled_label
from .status import FAILED

if TYPE_CHECKING:
    from .run.jobs import Job


def new_record(job: "Job", error: str | None = None) -> dict[str, Any]:
    """The record of a cell before anything ran: status ``failed`` until the cell says otherwise,
    its identity, empty metrics. The runner fills it as the cell runs; a launcher whose worker
    ended without a record writes it with the ``error``."""
    from . import __version__
    from .runid import SCHEMA_VERSION

    cell = job.cell
    return {
        "run_id": job.run_id,
        "schema_version": SCHEMA_VERSION,
        "suite_version": __version__,
        "status": FAILED,
        "error": error,
        "matrix": cell.matrix,
        "cell": {**cell.axes, "feature_source": cell.feature_source, "label": cell.label, "baseline": cell.baseline},
        "components": cell.components,
        "configs": cell.configs,
        "train": cell.train,
        "versions": job.identity.get("versions", {}),
        "dataset_fingerprint": job.identity.get("dataset_fingerprint", ""),
        "seeds": {"student": cell.seed, "teacher": cell.train.get("teacher_seed")},
        "metrics": {},
        "higher_is_better": {},
        "teacher_metrics": {},
    }


def error_line(text: str) -> str:
    """What a record's ``error`` keeps of an error message: its first line, at most 500 characters."""
    return text.splitlines()[0][:500] if text.strip() else ""


def row_label(record: dict[str, Any]) -> str:
    """The ``label`` of a record's leaderboard row: its own (``best val epoch``), then how many
    frames its features zero-filled, so such a row is never mistaken for a clean one."""
    parts = (record.get("row_label", ""), zero_filled_label(int(record.get("zero_filled_frames", 0) or 0)))
    return "; ".join(p for p in parts if p)
