"""The progress object and its sinks: stages, steps, ETA from measured step times, throttling."""
from __future__ import annotations

import io
import json

from benchmark.progress import PlainLines, Progress, ProgressFile, Snapshot, Stage, duration


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_stage_eta_is_the_remaining_steps_at_the_measured_step_time():
    stage = Stage("teacher fit", total=200, done=50, started=100.0)
    # 50 steps in 25 s: 0.5 s a step, 150 left
    assert stage.eta_s(125.0) == 75.0
    assert Stage("x", total=None, done=5, started=0.0).eta_s(10.0) is None
    assert Stage("x", total=10, done=0, started=0.0).eta_s(10.0) is None
    text = stage.describe(125.0)
    assert text == "teacher fit, 50/200 steps (25%), 25s, ETA 1m15s"


def test_duration_and_unit_formats():
    assert [duration(s) for s in (0, 42, 190, 3725)] == ["0s", "42s", "3m10s", "1h02m"]
    assert Stage("evaluation", total=8, done=2, unit="batch", started=0.0).describe(0.0).startswith(
        "evaluation, 2/8 batches (25%)")


def test_plain_lines_at_each_new_stage_and_at_most_every_30_s():
    clock, out = Clock(), io.StringIO()
    progress = Progress([PlainLines("cell/a", lambda line: print(line, file=out), clock=clock)], clock=clock)
    progress.start("teacher fit", total=100)
    for _ in range(10):
        clock.t += 2.9  # 29 s within the stage: no line
        progress.advance()
    clock.t += 1.1  # 30 s since the last line
    progress.advance()
    progress.detail("epoch 2/2")  # a detail is not a new stage
    progress.start("student training", total=4)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("cell/a: teacher fit, 0/100 steps (0%), 0s")
    eta = round(89 * 30.1 / 11)  # 89 steps left at 30.1 s / 11 steps
    assert f"teacher fit, 11/100 steps (11%), 30s, ETA {eta // 60}m{eta % 60:02d}s" in lines[1]
    assert lines[2].endswith("cell/a: student training, 0/4 steps (0%), 0s")
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_progress_file_is_written_on_a_new_stage_and_at_most_once_a_second(tmp_path):
    clock, path = Clock(), tmp_path / "progress.json"
    progress = Progress([ProgressFile(path, "rid", "cell/a", clock=clock)], clock=clock)
    progress.start("features", total=10, unit="frame")
    progress.advance(3)  # same instant: not written
    assert json.loads(path.read_text())["done"] == 0
    clock.t += 1.0
    progress.advance(1)
    snap = Snapshot.read(path)
    assert snap is not None and (snap.stage, snap.done, snap.total, snap.unit) == ("features", 4, 10, "frame")
    assert snap.run_id == "rid" and snap.label == "cell/a" and snap.updated == clock.t


def test_iterate_counts_steps_and_a_silent_progress_yields_everything():
    seen = []

    class Spy:
        def report(self, stage, new_stage):
            seen.append((stage.name, stage.done, stage.total, new_stage))

    progress = Progress([Spy()])
    assert list(progress.iterate(["a", "b", "c"], "reading")) == ["a", "b", "c"]
    assert seen[0] == ("reading", 0, 3, True) and seen[-1] == ("reading", 3, 3, False)
    assert list(Progress().iterate(iter(range(4)), "x")) == [0, 1, 2, 3]
