"""The order cells are handed to a launcher."""
from __future__ import annotations

from types import SimpleNamespace

from benchmark.run import run_order


def job(dataset: str, teacher: str, loss: str = "kl", student: str = "avt"):
    cell = SimpleNamespace(dataset=dataset, teacher=teacher, student=student, loss=loss)
    return SimpleNamespace(cell=cell, name=f"{dataset}/{student}/{teacher}/{loss}")


def test_a_cheap_cell_first_then_each_teacher_fit_followed_by_a_cheap_cell_then_the_rest():
    jobs = [job(d, t, l, s) for d in ("egtea", "epic") for t in ("none", "bert", "ngram")
            for s in ("avt", "rulstm") for l in (("none",) if t == "none" else ("kl", "feat"))]
    order = [j.name for j in run_order(jobs)]
    assert order[:9] == [
        "egtea/avt/none/none",  # a first row on the leaderboard within minutes
        "egtea/avt/bert/kl", "egtea/rulstm/none/none",  # the fits, first teacher of the axis first
        "epic/avt/bert/kl", "epic/avt/none/none",
        "egtea/avt/ngram/kl", "epic/rulstm/none/none",
        "epic/avt/ngram/kl",
        "egtea/avt/bert/feat",  # then every other cell in matrix order
    ]
    assert sorted(order) == sorted(j.name for j in jobs) and len(order) == len(jobs)


def test_without_baselines_the_fits_come_first():
    jobs = [job("d", t, l) for t in ("a", "b") for l in ("kl", "feat")]
    assert [j.name for j in run_order(jobs)] == ["d/avt/a/kl", "d/avt/b/kl", "d/avt/a/feat", "d/avt/b/feat"]
