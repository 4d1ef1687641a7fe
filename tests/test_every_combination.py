"""Every built-in student x loss on one dataset runs through the real runner (tiny settings)."""
from benchmark.matrix import build_matrix
from benchmark.run import Runner


def test_every_student_with_every_loss_runs(plugins, tmp_path):
    losses = sorted(plugins.registries["loss"].names())
    students = ["gru", "avt", "rulstm"]
    raw = {
        "matrix": {"dataset": "synthetic", "teacher": ["none", "seq-gru"], "student": students, "loss": losses},
        "train": {"epochs": 1, "batch_size": 32},
        "components": {
            "dataset": {"synthetic": {"train_videos": 6, "val_videos": 2}},
            "teacher": {"seq-gru": {"epochs": 1, "hidden": 16, "embed_dim": 8}},
            "student": {"avt": {"width": 32, "layers": 1, "heads": 2}, "rulstm": {"hidden": 16, "sc_epochs": 1}},
            "loss": {"ensemble": {"teachers": ["ngram"]}},
        },
    }
    matrix = build_matrix(raw, plugins)
    combos = {(c.student, c.loss) for c in matrix.cells}
    assert combos == {(s, l) for s in students for l in losses}
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(matrix, echo=lambda line: None)
    failed = [(r["cell"]["label"], r["error"]) for r in summary.executed if r["status"] != "ok"]
    assert not failed
    assert len(summary.executed) == len(students) * len(losses)
