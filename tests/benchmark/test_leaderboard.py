import math

import pandas as pd

from benchmark import report as leaderboard
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
    assert [p.name for p in paths] == ["x.md", "x.csv", "x.tex", "x.html", "relative_gain.png"]
    df = pd.read_csv(tmp_path / "x.csv")
    assert {"source", "data", "student", "teacher", "loss", "dataset", "metric", "mean", "std", "n",
            "delta", "rel_gain_pct"} <= set(df.columns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.html", "x.md", "x.tex", "x_files"]


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


def test_paired_differences_over_matched_seeds():
    from scipy import stats

    base = [30.0, 35.0, 28.0, 33.0]
    kl = [31.0, 35.5, 29.5, 32.8]
    records = [rec("none", "none", s, v) for s, v in enumerate(base)]
    records += [rec("t", "kl", s, v) for s, v in enumerate(kl)]
    records.append(rec("t", "kl", 9, 99.0))  # no baseline for seed 9: not paired
    long = leaderboard.build(records, [], "top1_action").long
    row = long[(long.teacher == "t") & (long.metric == "top1_action")].iloc[0]
    diffs = [k - b for k, b in zip(kl, base)]
    assert row["paired_n"] == 4 and row["wins"] == 3
    assert math.isclose(row["paired_delta"], sum(diffs) / 4)
    assert math.isclose(row["p_value"], stats.ttest_rel(kl, base).pvalue)
    md = leaderboard.render_markdown(leaderboard.build(records, [], "top1_action"), "t", "cmd")
    assert "(3/4 seeds up)" in md and "paired t-test" in md
    # an unpaired mean would claim a large gain from the unmatched seed; the paired column does not
    assert row["delta"] > 10 and abs(row["paired_delta"]) < 1


def test_paired_test_edge_cases():
    assert math.isnan(leaderboard.paired_test([1.0])[2])
    assert leaderboard.paired_test([0.0, 0.0])[2] == 1.0


def test_primary_metric_per_dataset():
    from benchmark.report import plots

    records = []
    for dataset, shift in (("egtea", 0.0), ("epic55", 100.0)):
        for seed, (b, k) in enumerate([(20.0, 23.0), (22.0, 24.0)]):
            records += [rec("none", "none", seed, b + shift, dataset), rec("t", "kl", seed, k + shift, dataset)]
    board = leaderboard.build(records, [], "top5_action", primary_by_dataset={"egtea": "top1_action"})
    wide = board.wide()
    cols = [c for c in wide.columns if "Δ" in c]
    assert cols == ["egtea Δ top1_action", "egtea paired Δ", "epic55 Δ top5_action", "epic55 paired Δ"]
    assert list(wide.columns).index("egtea top1_action ↑") < list(wide.columns).index("egtea top5_action ↑")
    long = board.long
    paired = long[long.paired_n == 2]
    assert set(zip(paired.dataset, paired.metric)) == {("egtea", "top1_action"), ("epic55", "top5_action")}
    assert board.primary_text() == "top5_action; egtea: top1_action"
    assert "primary metric (top5_action; egtea: top1_action)" in leaderboard.render_markdown(board, "t", "cmd")
    gains = plots.seed_gains(records, "top5_action", {"egtea": "top1_action"})
    egtea = gains[gains.dataset == "egtea"].sort_values("seed")["gain"].round(3).tolist()
    assert egtea == [15.0, round(2 / 22 * 100, 3)]  # from top-1 (20 -> 23, 22 -> 24), not top-5
