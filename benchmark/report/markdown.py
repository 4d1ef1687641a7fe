"""The leaderboard as GitHub Markdown (tabulate)."""
from __future__ import annotations

from tabulate import tabulate

from .model import Leaderboard, Note, notes, shown_table


def note_markdown(note: Note) -> str:
    return "".join(f"`{value}`" if kind == "code" else value for kind, value in note.parts)


def render_markdown(board: Leaderboard, title: str, command: str, note: str = "") -> str:
    wide, _ = shown_table(board)
    explained = notes(board, wide)
    above = [note_markdown(n) for n in explained if not n.after_table]
    lines = [f"# {title}", "", f"Produced by `{command}`. {above[0]}", *above[1:]]
    if note:
        lines.append(note)
    lines += ["", tabulate(wide, headers="keys", tablefmt="github", showindex=False, disable_numparse=True), ""]
    if board.baselines:
        below = [note_markdown(n) for n in explained if n.after_table]
        for text in below:
            lines += [text, ""]
        lines += ["Published tables:", ""]
        for table in board.baselines:
            lines.append(f"- **{table.name}**: {table.citation} {table.description}".rstrip())
        lines.append("")
    if board.failed:
        lines += [f"Failed cells ({len(board.failed)}):", ""]
        for rec in board.failed:
            lines.append(f"- `{rec['cell']['label']}` ({rec['run_id']}): {rec.get('error')}")
        lines.append("")
    return "\n".join(lines)
