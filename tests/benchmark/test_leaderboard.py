import math

import pandas as pd

from benchmark import leaderboard
from benchmark.api import BaselineRow, BaselineTable


def rec(teacher, loss, seed, value, dataset="synthetic", status="ok", kind="synthetic"):
    return {"status": status, "run_id": f"{teacher}{loss}{seed}", "data_kind": kind, "error": "Boom: x",
            "cell": {"dataset": dataset, "teacher": teacher, "student": "gru", "loss": loss, "seed": seed,
                     "label": f"{dataset}/gru/{teacher}/{loss}/seed{seed}"},
            "metrics": {"top1_action": value, "top5_action": value + 10}, "higher_is_better": {"top1_action": True}}


TABLE = BaselineTable("paper-x", "Someone et al. 2023", [
    BaselineRow("synthetic", "gru", "none", "none", {"top1_action": 40.0}, label="published base"),
    BaselineRow("synthetic", "gru", "bert", "kl", {"top1_action": 44.0}, label="published kl"),
    BaselineRow("other", "gru", "none", "none", {"top1_action": 1.0}),
])


def board():
    records = [rec("none", "none", 0, 20.0), rec("none", "none", 1, 22.0),
               rec("t", "kl", 0, 24.0), rec("t", "kl", 1, 26.0), rec("t", "mse", 0, 0, status="failed")]
    return leaderboard.build(records, [TABLE], "top1_action")


def test_mean_std_n_and_relative_gain_against_the_no_teacher_row():
    long = board().long
    kl = long[(long.teacher == "t") & (long.metric == "top1_action")].iloc[0]
    assert (kl["mean"], round(kl["std"], 4), kl["n"]) == (25.0, round(math.sqrt(2), 4), 2)
    assert kl["delta"] == 4.0 and kl["rel_gain_pct"] == 4.0 / 21.0 * 100
    pub = long[(long.source == "paper-x") & (long.teacher == "bert")].iloc[0]
    assert pub["delta"] == 4.0 and pub["rel_gain_pct"] == 10.0  # against the published base row
    base = long[(long.source == leaderboard.OURS) & (long.teacher == "none")]
    assert base["delta"].isna().all()
    assert "other" not in set(long.dataset)  # tables are filtered to the datasets that ran


def test_markdown_labels_synthetic_rows_lists_failures_and_cites_sources():
    md = leaderboard.render_markdown(board(), "T", "bench run --matrix x")
    assert "bench run --matrix x" in md
    assert "| this suite | synthetic" in md and "25.00 ± 1.41 (n=2)" in md and "+19.0%" in md
    assert "synthetic top1_action ↑" in md
    assert "Someone et al. 2023" in md and "published kl" in md
    assert "Failed cells (1)" in md and "Boom: x" in md


def test_csv_is_tidy_and_written_atomically(tmp_path):
    paths = leaderboard.write(board(), tmp_path, "x", "T", "cmd")
    assert [p.name for p in paths] == ["x.md", "x.csv"]
    df = pd.read_csv(tmp_path / "x.csv")
    assert {"source", "data", "student", "teacher", "loss", "dataset", "metric", "mean", "std", "n",
            "delta", "rel_gain_pct"} <= set(df.columns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.md"]


def test_chosen_reference_row():
    records = [rec("none", "none", 0, 20.0), rec("t", "kl", 0, 24.0)]
    b = leaderboard.build(records, [TABLE], "top1_action", reference="paper-x:published base")
    long = b.long[b.long.metric == "top1_action"]
    ours = long[(long.source == leaderboard.OURS) & (long.teacher == "t")].iloc[0]
    assert ours["delta"] == -16.0 and ours["rel_gain_pct"] == -40.0
    import pytest

    from benchmark.errors import ConfigError

    with pytest.raises(ConfigError, match="matches no row"):
        leaderboard.build(records, [TABLE], "top1_action", reference="paper-x:nope")
