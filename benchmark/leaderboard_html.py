"""The leaderboard as a static HTML page with plots, and as a LaTeX ``tabular``.

Both show the same wide table as the Markdown leaderboard. Everything is rendered in memory
(:func:`render`); ``leaderboard.write`` then writes the files, images before the page.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import quote

import pandas as pd

from . import plots
from .api import SELECTED_NOTE, SELECTED_ROW_LABEL
from .coverage import ZERO_FILLED_MARK, ZERO_FILLED_NOTE
from .leaderboard import OURS, ROW_KEYS, Leaderboard

GAIN_PNG = "relative_gain.png"
TEACHER_PNG = "teacher_vs_gain.png"
#: every image name the page may use; only these are ever removed from ``<stem>_files/``
PLOT_FILES = (GAIN_PNG, TEACHER_PNG)
SIGNIFICANCE = 0.05


@dataclass
class Rendered:
    html: str
    tex: str
    images: dict[str, bytes] = field(default_factory=dict)  # file name in <stem>_files/ -> PNG


def files_dir(stem: str) -> str:
    return f"{stem}_files"


def render(board: Leaderboard, stem: str, title: str, command: str,
           records: Iterable[dict[str, Any]] | None = None) -> Rendered:
    """The page, the LaTeX table and the plot images. ``records`` (the run records the board was
    built from) give the per-seed gains and teacher scores the plots need."""
    summary = plots.summarize(board, None if records is None else list(records))
    images: dict[str, bytes] = {}
    figures: list[str] = []
    primary = board.primary_text()
    gain = plots.plot_gains(summary, primary)
    if gain is not None:
        images[GAIN_PNG] = gain
        spread = ("error bars: std over seeds of the per-seed relative gain, "
                  "(row − no-teacher row of the same seed) / no-teacher row · 100; bar: their mean"
                  if records is not None else
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
    scatter = plots.plot_teacher_vs_gain(summary, primary)
    if scatter is not None:
        images[TEACHER_PNG] = scatter
        figures.append(_figure(
            stem, TEACHER_PNG, "Teacher accuracy against student gain",
            f"Each point is one teacher × loss × student × dataset: the teacher's own {primary} on "
            "the validation split (mean over seeds) against the student's mean relative gain.",
        ))
    else:
        figures.append('<p class="skipped">No teacher-accuracy plot: no distilled row has both a '
                       "relative gain and the teacher's own metrics.</p>")
    return Rendered(render_html(board, title, command, figures), render_latex(board, command), images)


# ---------------------------------------------------------------------------------------- HTML

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


def _figure(stem: str, name: str, alt: str, caption: str) -> str:
    src = quote(f"{files_dir(stem)}/{name}")
    return (f'<figure><img src="{_e(src)}" alt="{_e(alt)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _table_frame(board: Leaderboard) -> tuple[pd.DataFrame, list[tuple], dict[tuple, float]]:
    """The wide table (label column dropped when empty, as in the Markdown), each row's key, and
    the smallest paired p-value per row key."""
    wide = board.wide()
    keys = [tuple(r[k] for k in ROW_KEYS) for _, r in wide.iterrows()]
    if "label" in wide and not wide["label"].astype(bool).any():
        wide = wide.drop(columns=["label"])
    long = board.long
    pvals: dict[tuple, float] = {}
    if not long.empty and "p_value" in long:
        for _, r in long[long["p_value"].notna()].iterrows():
            key = tuple(r[k] for k in ROW_KEYS)
            pvals[key] = min(pvals.get(key, math.inf), float(r["p_value"]))
    return wide, keys, pvals


def _significant_text(text: str) -> bool:
    try:
        return float(text) < SIGNIFICANCE
    except ValueError:
        return False


def _table_html(board: Leaderboard) -> str:
    wide, keys, pvals = _table_frame(board)
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


def _notes(board: Leaderboard, wide: pd.DataFrame) -> list[str]:
    notes = ["Cells show mean ± std over seeds (n = number of seeds)."]
    if board.reference:
        notes.append(f"Δ and relative gain compare the primary metric (<code>{_e(board.primary_text())}</code>) with "
                     f"the row <code>{_e(board.reference)}</code>.")
    else:
        notes.append(f"Δ and relative gain compare the primary metric (<code>{_e(board.primary_text())}</code>) with "
                     "the row of the same source, data and student that has teacher <code>none</code> and "
                     "loss <code>none</code>.")
    if any(str(c).endswith("paired Δ") for c in wide.columns):
        notes.append("Paired Δ: mean ± std over seeds of (row − no-teacher row of the same seed), with how "
                     "many seeds improved, and the two-sided p-value of a paired t-test (no correction for "
                     "the number of rows).")
    kinds = set(wide["data"]) if "data" in wide else set()
    if kinds & {"synthetic", "simulated"}:
        notes.append("Rows whose <code>data</code> is <code>synthetic</code> or <code>simulated</code> were "
                     "computed on generated data or simulated features: they show how methods behave, not "
                     "what they score on real video.")
    for mark, note in ((SELECTED_ROW_LABEL, SELECTED_NOTE), (ZERO_FILLED_MARK, ZERO_FILLED_NOTE)):
        if "label" in wide and wide["label"].astype(str).str.contains(mark, regex=False).any():
            notes.append(re.sub(r"`([^`]*)`", lambda m: f"<code>{_e(m.group(1))}</code>", _e(note)))
    if not board.long.empty and board.long["uncertain"].any():
        notes.append("† the source of this published number could not be checked exactly (see the table's "
                     "notes).")
    return notes


def render_html(board: Leaderboard, title: str, command: str, figures: list[str]) -> str:
    wide, _, _ = _table_frame(board)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_e(title)}</h1>", f'<p class="command">Produced by <code>{_e(command)}</code>.</p>',
    ]
    parts += [f"<p>{note}</p>" for note in _notes(board, wide)]
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


# --------------------------------------------------------------------------------------- LaTeX

_TEX_CHARS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "Δ": r"$\Delta$", "†": r"$^\dagger$", "↑": r"$\uparrow$", "↓": r"$\downarrow$",
    "−": r"$-$", "×": r"$\times$", "→": r"$\rightarrow$", "…": r"\ldots{}", "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def tex_escape(text: Any) -> str:
    """Text made safe for a LaTeX table cell (special characters escaped, symbols as math)."""
    return "".join(_TEX_CHARS.get(ch, ch) for ch in str(text))


def render_latex(board: Leaderboard, command: str) -> str:
    """A booktabs ``tabular`` of the wide table, for ``\\input`` (needs ``\\usepackage{booktabs}``)."""
    wide, _, _ = _table_frame(board)
    text_cols = [c for c in wide.columns if c in ROW_KEYS]
    spec = "".join("l" if c in text_cols else "r" for c in wide.columns) or "l"
    one_line = " ".join(str(command).split())
    lines = [f"% Produced by {one_line}", "% Needs \\usepackage{booktabs}.",
             f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & ".join(tex_escape(c) for c in wide.columns) + r" \\", "\\midrule"]
    previous = None
    for _, row in wide.iterrows():
        if previous is not None and row["source"] != previous:
            lines.append("\\midrule")
        previous = row["source"]
        lines.append(" & ".join(tex_escape("" if row[c] is None else row[c]) for c in wide.columns) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)
