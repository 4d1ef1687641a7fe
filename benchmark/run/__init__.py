"""The cell pipeline: planning a matrix, running its cells (in this process or as workers), and
each cell's steps from its inputs to its record. See docs/architecture.md."""
from .jobs import DEFAULT_DATA_DIR, Job, Journal, Summary, data_kind, default_data_dir, run_order
from .runner import Runner

__all__ = ["DEFAULT_DATA_DIR", "Job", "Journal", "Runner", "Summary", "data_kind", "default_data_dir",
           "run_order"]
