"""The leaderboard as a static HTML page: the table with its row marks, the notes, and the plot
images :mod:`benchmark.report.plots` drew."""
from __future__ import annotations

import html
import math
from typing import Any, Iterable
from urllib.parse import quote

from .model import (
    GAIN_PNG,
    OURS,
    ROW_KEYS,
    SIGNIFICANCE,
    TEACHER_PNG,
    Leaderboard,
    Note,
    files_dir,
    notes,
    shown_table,
    smallest_p_values,
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem;
       color: #1a1a1a; line-height: 1.4; }
h1 { font-size: 1.4rem; margin-bottom: 0.3rem; }
h2 { font-size: 1.1rem; margin-top: 1.6rem; }
code { background: #f2f2f2; padding: 0 0.25em; border-radius: 3px; }
.table-wrap { overflow: auto; max-height: 80vh; border: 1px solid #ccc; }
table.leaderboard { border-collapse: separate; border-spacing: 0; font-size: 0.85rem; }
table.leaderboard th, table.leaderboard td { padding: 0.25rem 0.55rem; border-bottom: 1px solid #e3e3e3;
       white-space: nowrap; }
table.leaderboard thead th { position: sticky; top: 0; z-index: 1; background: #2f3e4e; color: #fff;
       text-align: left; vertical-align: bottom; }
table.leaderboard td.num, table.leaderboard th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.leaderboard tr.baseline td { background: #eef2f7; font-style: italic; }
table.leaderboard tr.baseline td:first-child { box-shadow: inset 4px 0 0 #7a8ca3; }
table.leaderboard tr.significant td { background: #e9f7e9; }
table.leaderboard tr.significant td:first-child { box-shadow: inset 4px 0 0 #2e8b57; }
table.leaderboard td.p-significant { font-weight: 700; color: #1d6b3f; }
table.leaderboard tr.published td { color: #555; }
.legend span { display: inline-block; padding: 0 0.4em; margin-right: 0.8em; }
.legend .baseline { background: #eef2f7; box-shadow: inset 4px 0 0 #7a8ca3; font-style: italic; }
.legend .significant { background: #e9f7e9; box-shadow: inset 4px 0 0 #2e8b57; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #444; max-width: 60rem; }
.skipped { color: #666; font-style: italic; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _note_html(note: Note) -> str:
    # prose is element content: only &, < and > need escaping (quotes stay as written)
    return "".join(html.escape(value, quote=False) if kind == "text" else f"<code>{_e(value)}</code>"
                   for kind, value in note.parts)


def _figure(stem: str, name: str, alt: str, caption: str) -> str:
    src = quote(f"{files_dir(stem)}/{name}")
    return (f'<figure><img src="{_e(src)}" alt="{_e(alt)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _figures(primary: str, stem: str, images: set[str], per_seed: bool) -> list[str]:
    figures: list[str] = []
    if GAIN_PNG in images:
        spread = ("error bars: std over seeds of the per-seed relative gain, "
                  "(row − no-teacher row of the same seed) / no-teacher row · 100; bar: their mean"
                  if per_seed else
                  "bar: the table's relative gain (ratio of means; per-seed values were not available)")
        figures.append(_figure(
            stem, GAIN_PNG, "Relative gain over the no-teacher row",
            f"Relative gain (%) in {primary} of each teacher × loss row over the no-teacher row of the "
            f"same data, student and dataset, one panel per dataset; {spread}. Dashed lines: the paper's "
            "headline relative gains (+3.5 % EGTEA, +7.2 % EPIC-55, as stated in its abstract).",
        ))
    else:
        figures.append('<p class="skipped">No relative-gain plot: no row of this suite has a '
                       "no-teacher row to compare with.</p>")
    if TEACHER_PNG in images:
        figures.append(_figure(
            stem, TEACHER_PNG, "Teacher accuracy against student gain",
            f"Each point is one teacher × loss × student × dataset: the teacher's own {primary} on "
            "the validation split (mean over seeds) against the student's mean relative gain.",
        ))
    else:
        figures.append('<p class="skipped">No teacher-accuracy plot: no distilled row has both a '
                       "relative gain and the teacher's own metrics.</p>")
    return figures


def _significant_text(text: str) -> bool:
    try:
        return float(text) < SIGNIFICANCE
    except ValueError:
        return False


def _table_html(board: Leaderboard) -> str:
    wide, keys = shown_table(board)
    pvals = smallest_p_values(board)
    baselines = {tuple(r[k] for k in ROW_KEYS) for _, r in board.long[board.long["baseline"]].iterrows()} \
        if not board.long.empty else set()
    text_cols = [c for c in wide.columns if c in ROW_KEYS]
    num = ' class="num"'
    head = "".join(f'<th scope="col"{"" if c in text_cols else num}>{_e(c)}</th>' for c in wide.columns)
    body = []
    for key, (_, row) in zip(keys, wide.iterrows()):
        classes = []
        if key in baselines:
            classes.append("baseline")
        if pvals.get(key, math.inf) < SIGNIFICANCE:
            classes.append("significant")
        if row["source"] != OURS:
            classes.append("published")
        cells = []
        for col in wide.columns:
            value = "" if row[col] is None else str(row[col])
            cls = [] if col in text_cols else ["num"]
            if str(col).endswith("(paired t)") and _significant_text(value):
                cls.append("p-significant")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{_e(value)}</td>")
        attr = f' class="{" ".join(classes)}"' if classes else ""
        body.append(f"<tr{attr}>{''.join(cells)}</tr>")
    return (f'<div class="table-wrap"><table class="leaderboard"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n{chr(10).join(body)}\n</tbody></table></div>")


def render_html(board: Leaderboard, title: str, command: str, stem: str, images: Iterable[str],
                per_seed: bool) -> str:
    """The page; ``images``: the plot files (names in ``<stem>_files/``) there are to show;
    ``per_seed``: whether the gain plot's spread comes from per-seed gains."""
    wide, _ = shown_table(board)
    figures = _figures(board.primary_text(), stem, set(images), per_seed)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_e(title)}</h1>", f'<p class="command">Produced by <code>{_e(command)}</code>.</p>',
    ]
    parts += [f"<p>{_note_html(note)}</p>" for note in notes(board, wide)]
    parts.append('<p class="legend">Row marks: <span class="baseline">no-teacher row</span>'
                 f'<span class="significant">paired p &lt; {SIGNIFICANCE:g}</span></p>')
    parts.append(_table_html(board))
    if board.baselines:
        parts.append("<h2>Published tables</h2>")
        parts.append("<ul>" + "".join(
            f"<li><strong>{_e(t.name)}</strong>: {_e(t.citation)} {_e(t.description)}</li>" for t in board.baselines
        ) + "</ul>")
    if board.failed:
        parts.append(f"<h2>Failed cells ({len(board.failed)})</h2>")
        parts.append('<ul class="failed">' + "".join(
            f"<li><code>{_e(r.get('cell', {}).get('label', '?'))}</code> ({_e(r.get('run_id', '?'))}): "
            f"{_e(r.get('error'))}</li>" for r in board.failed
        ) + "</ul>")
    parts.append("<h2>Plots</h2>")
    parts += figures
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
