"""Watching a matrix: the state of every cell (read from the runs folder, whoever runs it) and
its renderers: the live view of ``bench run`` on a terminal, plain lines elsewhere, and the table
of ``bench status``."""
from .state import CellState, MatrixState, read_state

__all__ = ["CellState", "MatrixState", "read_state"]
