"""The leaderboard as a LaTeX booktabs ``tabular``."""
from __future__ import annotations

from typing import Any

from .model import ROW_KEYS, Leaderboard, shown_table

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
    wide, _ = shown_table(board)
    text_cols = [c for c in wide.columns if c in ROW_KEYS]
    spec = "".join("l" if c in text_cols else "r" for c in wide.columns) or "l"
    one_line = " ".join(str(command).split())
    lines = [f"% Produced by {one_line}", *([f"% {board.partial_text()}"] if board.partial else []),
             "% Needs \\usepackage{booktabs}.",
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
