"""Writes a leaderboard in every format: ``<stem>.md``, ``.csv``, ``.tex`` and ``.html`` with its
plots in ``<stem>_files/``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .. import atomic
from .html import render_html
from .latex import render_latex
from .markdown import render_markdown
from .model import PLOT_FILES, Leaderboard, files_dir
from .plots import render_plots


def render_csv(board: Leaderboard) -> str:
    """The long table, one row per (row, dataset, metric)."""
    return board.long.drop(columns=["text"], errors="ignore").to_csv(index=False, float_format="%.4f")


def write(board: Leaderboard, out_dir: Path, stem: str, title: str, command: str,
          records: Iterable[dict[str, Any]] | None = None) -> list[Path]:
    """Every format of ``board`` under ``out_dir``; the written paths.

    ``records`` (those the board was built from) give the plots their per-seed spread and teacher
    scores. Everything is rendered in memory first, then each file is replaced atomically, the
    images before the page that shows them and the page last: a failure leaves the old files.
    """
    out_dir = Path(out_dir)
    records = None if records is None else list(records)
    images = render_plots(board, records)
    texts = (render_markdown(board, title, command), render_csv(board), render_latex(board, command),
             render_html(board, title, command, stem, images, per_seed=records is not None))
    files = out_dir / files_dir(stem)
    image_paths = [files / name for name in images]
    for path in image_paths:
        atomic.write_bytes(path, images[path.name])
    paths = [out_dir / f"{stem}.{ext}" for ext in ("md", "csv", "tex", "html")]
    for path, text in zip(paths, texts):
        atomic.write_text(path, text)
    for name in PLOT_FILES:  # plots this page no longer shows
        if name not in images:
            (files / name).unlink(missing_ok=True)
    if files.is_dir() and not any(files.iterdir()):
        files.rmdir()
    return paths + image_paths


def write_matrix(plugins: Any, runner: Any, matrix: Any, out_dir: Path, command: str, primary: str | None = None,
                 baselines: list[str] | None = None, reference: str | None = None) -> list[Path]:
    """The leaderboard of every recorded cell of ``matrix`` (planned by ``runner``, read from its
    store) against its baseline tables, as the matrix's ``leaderboard:`` block asks unless
    ``primary``, ``baselines`` or ``reference`` override it."""
    from .model import build

    jobs = runner.plan(matrix)
    records = [r for r in (runner.store.read_record(j.run_id) for j in jobs) if r is not None]
    board_cfg = matrix.leaderboard
    names = baselines if baselines is not None else board_cfg.baselines
    tables = [plugins.get("baseline", n, "leaderboard.baselines") for n in names]
    board = build(records, tables, primary or board_cfg.primary, board_cfg.metrics or None,
                  reference or board_cfg.reference or None, None if primary else board_cfg.primary_by_dataset)
    board.cells = (len(records), len(jobs))
    title = f"Leaderboard: {matrix.name}" + (f" ({board.partial_text()})" if board.partial else "")
    return write(board, out_dir, board_cfg.output or matrix.name, title, command, records)
