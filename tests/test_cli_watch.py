"""Watching `bench run`: plain lines on a non-terminal, the live view on a terminal (a pty), and
the leaderboard rewritten after every cell, marked partial until the matrix is complete."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

MATRIX = ("name: watch\nmatrix: {dataset: synthetic, teacher: [none, seq-gru], student: gru, loss: [none, kl]}\n"
          "train: {epochs: 1}\nfeature_source: simulated\ncomponents: {teacher: {seq-gru: {epochs: 2}}}\n"
          "leaderboard: {primary: top1_action}\n")


def command(tmp_path: Path, *extra: str) -> list[str]:
    path = tmp_path / "watch.yaml"
    path.write_text(MATRIX)
    return [sys.executable, "-m", "benchmark.cli", "run", "--matrix", str(path), "--runs-dir", str(tmp_path / "runs"),
            "--leaderboard-dir", str(tmp_path / "lb"), *extra]


def test_plain_lines_on_a_non_terminal_and_a_partial_leaderboard_after_the_first_cell(tmp_path):
    proc = subprocess.Popen(command(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, board_after_first = [], None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("matrix 'watch': 1/2 done"):  # printed after the board is rewritten
            board_after_first = (tmp_path / "lb" / "watch.md").read_text()
    assert proc.wait(timeout=600) == 0
    text = "\n".join(lines)
    assert "\x1b" not in text and "\r" not in text  # no control characters
    assert lines[0] == "matrix 'watch': 2 cells, 2 to run, 0 already recorded (runs in " + str(tmp_path / "runs") + ")"
    # a line at each stage of each cell: reading data, features, the teacher's fit, the student
    assert any(": student training, 0/" in line for line in lines)
    assert any("synthetic/gru/seq-gru/kl/seed0: teacher fit" in line for line in lines)
    assert any(line.startswith("[1/2] ok") for line in lines) and any(line.startswith("[2/2] ok") for line in lines)
    assert "matrix 'watch': 2/2 done, 0 running, 0 failed, 0 pending, complete" in lines
    assert board_after_first is not None
    assert board_after_first.startswith("# Leaderboard: watch (partial: 1 of 2 cells)")
    assert "Partial: 1 of 2 cells recorded" in board_after_first
    final = (tmp_path / "lb" / "watch.md").read_text()
    assert final.startswith("# Leaderboard: watch\n") and "artial" not in final
    assert "partial" not in (tmp_path / "lb" / "watch.tex").read_text()


def test_live_view_on_a_terminal_shows_counts_and_an_eta(tmp_path):
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    # long enough training that the view catches the second cell running after the first finished
    proc = subprocess.Popen(command(tmp_path, "--set", "train.epochs=40"), stdin=slave, stdout=slave, stderr=slave,
                            env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=600) == 0
    out = b"".join(chunks).decode("utf-8", errors="replace")
    assert "\x1b[" in out  # a live view redraws itself
    assert "matrix 'watch': 0/2 done, 1 running, 0 failed, 1 pending, ETA unknown" in out
    assert re.search(r"matrix 'watch': 1/2 done, 1 running, 0 failed, 0 pending, ETA ~\d+s", out)
    assert "student training" in out and "[2/2] ok" in out
    assert "matrix 'watch': 2/2 done, 0 running, 0 failed, 0 pending, complete" in out


def test_partial_until_every_cell_has_a_record(tmp_path):
    res = subprocess.run(command(tmp_path, "--only", "teacher=none", "--no-progress"), capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    board = (tmp_path / "lb" / "watch.md").read_text()
    assert board.startswith("# Leaderboard: watch (partial: 1 of 2 cells)")
    assert "% partial: 1 of 2 cells" in (tmp_path / "lb" / "watch.tex").read_text()
    assert "Partial: 1 of 2 cells recorded" in (tmp_path / "lb" / "watch.html").read_text()
