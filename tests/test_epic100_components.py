"""Every built-in teacher and student runs on EPIC-100 (its loader on small files written in its
formats, tiny settings) and gets the nine official metrics."""
from pathlib import Path

import numpy as np

from benchmark.matrix import build_matrix
from benchmark.plugin_manager import get_plugins
from benchmark.run import Runner
from plugins.metrics.ek100 import EK100_METRICS

from .test_cli_submit import write_epic100

TINY_TEXT = {"init": "scratch", "scratch_hidden": 16, "scratch_layers": 1, "scratch_heads": 2, "scratch_vocab": 200,
             "max_len": 32, "epochs": 1, "batch_size": 16}


def test_every_teacher_and_student_runs_on_epic100(tmp_path):
    plugins = get_plugins([Path(__file__).parent / "plugin_files" / "epic_formats"])
    write_epic100(tmp_path / "data" / "mini-epic100", np.random.default_rng(1))
    teachers = sorted(plugins.registries["teacher"].names())
    text = [t for t in teachers if t not in ("none", "ngram", "seq-gru", "minilm")]
    students = ["gru", "avt", "rulstm"]  # the student classes; presets are configs of them
    raw = {
        "name": "every-epic100",
        "matrix": {"dataset": "mini-epic100", "teacher": teachers, "student": "gru", "loss": "kl"},
        "feature_source": "simulated",
        "train": {"epochs": 1, "batch_size": 16},
        "metrics": [m.name for m in EK100_METRICS],
        "components": {
            "feature_source": {"simulated": {"dim": 16}},
            "teacher": {"seq-gru": {"epochs": 1, "hidden": 16, "embed_dim": 8},
                        "minilm": {"epochs": 1, "batch_size": 16, "max_len": 32},
                        **{t: dict(TINY_TEXT) for t in text}},
            "student": {"avt": {"width": 32, "layers": 1, "heads": 2}, "rulstm": {"hidden": 16, "sc_epochs": 1}},
        },
    }
    matrix = build_matrix(raw, plugins)
    extra = build_matrix({**raw, "name": "students-epic100",
                          "matrix": {"dataset": "mini-epic100", "teacher": "none", "student": students,
                                     "loss": "none"}}, plugins)
    runner = Runner(plugins, tmp_path / "runs", data_dir=tmp_path / "data", progress=False)
    executed = []
    for m in (matrix, extra):
        executed += runner.run(m, echo=lambda line: None).executed
    failed = [(r["cell"]["label"], r["error"]) for r in executed if r["status"] != "ok"]
    assert not failed
    assert {r["cell"]["teacher"] for r in executed} == set(teachers)
    assert {r["cell"]["student"] for r in executed} >= set(students)
    for r in executed:
        assert set(r["metrics"]) == {m.name for m in EK100_METRICS}
        assert r["metrics"]["mt5r_action_overall"] is not None
