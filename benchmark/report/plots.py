"""Leaderboard plots (matplotlib, Agg, PNG): relative gain over the no-teacher row, and teacher
accuracy against that gain.

The per-seed numbers come from run records; a :class:`~benchmark.report.model.Leaderboard` keeps only
aggregates. PNG bytes depend on the input alone (no software or time stamp in the metadata), so an
unchanged leaderboard rewrites identical images.
"""
from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from ..records import row_label
from .model import GAIN_PNG, OURS, TEACHER_PNG, Leaderboard

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: relative gains the paper's abstract states over its AVT baseline, by dataset name in this suite
HEADLINE_GAIN_PCT = {"egtea": 3.5, "epic55": 7.2}

GROUP = ["data", "student", "teacher", "loss", "label", "dataset"]
SUMMARY_COLUMNS = GROUP + ["gain", "gain_std", "n", "teacher_score"]

_PNG_METADATA = {"Software": None}
_STYLE = {"font.size": 8, "axes.titlesize": 9, "legend.fontsize": 7, "figure.dpi": 100,
          "savefig.dpi": 100, "axes.grid": True, "grid.alpha": 0.3, "axes.axisbelow": True}


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    """The leaderboard row a record belongs to (the same key rules as :func:`benchmark.report.model.build`)."""
    cell = rec["cell"]
    scratch = (rec.get("teacher_info") or {}).get("init") == "scratch"
    return {
        "data": rec.get("data_kind", "real"), "student": cell["student"],
        "teacher": cell["teacher"] + (" (scratch)" if scratch else ""), "loss": cell["loss"],
        "label": row_label(rec), "dataset": cell["dataset"], "seed": cell["seed"],
        "baseline": bool(cell.get("baseline", cell["teacher"] == "none" and cell["loss"] == "none")),
    }


def seed_gains(records: Iterable[dict[str, Any]], primary: str,
               by_dataset: dict[str, str] | None = None) -> pd.DataFrame:
    """Per-seed relative gain (%) of every distilled row over the no-teacher row of the same data,
    student, dataset and seed: (row_seed − base_seed) / base_seed · 100. Seeds without a
    no-teacher run are left out. ``teacher_score`` is the teacher's own primary metric. The
    primary metric of a dataset is ``by_dataset[dataset]`` where given, else ``primary``."""
    base: dict[tuple, float] = {}
    rows = []
    for rec in records:
        metric = (by_dataset or {}).get(rec.get("cell", {}).get("dataset"), primary)
        if rec.get("status") != "ok" or (rec.get("metrics") or {}).get(metric) is None:
            continue
        row = _row(rec)
        value = float(rec["metrics"][metric])
        if row["baseline"]:
            base[(row["data"], row["student"], row["dataset"], row["seed"])] = value
        else:
            score = (rec.get("teacher_metrics") or {}).get(metric)
            rows.append({**row, "value": value, "teacher_score": float("nan") if score is None else float(score)})
    out = []
    for row in rows:
        b = base.get((row["data"], row["student"], row["dataset"], row["seed"]))
        if b is None or b == 0:
            continue
        out.append({**row, "base": b, "gain": (row["value"] - b) / b * 100.0})
    columns = GROUP + ["seed", "value", "base", "gain", "teacher_score"]
    return pd.DataFrame(out, columns=columns)


def summarize(board: Leaderboard, records: Iterable[dict[str, Any]] | None) -> pd.DataFrame:
    """One row per distilled row × dataset: mean and std over seeds of the per-seed relative gain,
    and the teacher's mean primary metric. Without records, the table's relative gain of our rows
    (ratio of means, no spread, no teacher score) is used when it is against the no-teacher row."""
    if records is not None:
        per_seed = seed_gains(records, board.primary, board.primary_by_dataset)
        if per_seed.empty:
            return pd.DataFrame(columns=SUMMARY_COLUMNS)
        agg = (per_seed.groupby(GROUP, dropna=False, sort=False)
               .agg(gain=("gain", "mean"), gain_std=("gain", "std"), n=("gain", "count"),
                    teacher_score=("teacher_score", "mean"))
               .reset_index())
        return agg[SUMMARY_COLUMNS]
    long = board.long
    if long.empty or board.reference:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    sub = long[(long["source"] == OURS) & (long["metric"] == long["dataset"].map(board.primary_of)) & ~long["baseline"]
               & long["rel_gain_pct"].notna()]
    return pd.DataFrame({
        **{k: sub[k].tolist() for k in GROUP}, "gain": sub["rel_gain_pct"].tolist(),
        "gain_std": [float("nan")] * len(sub), "n": sub["n"].astype(int).tolist(),
        "teacher_score": [float("nan")] * len(sub),
    }, columns=SUMMARY_COLUMNS)


def _name(row: Any, with_label: bool) -> str:
    name = f"{row['teacher']} / {row['loss']}"
    return f"{name} ({row['label']})" if with_label and row["label"] else name


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata=_PNG_METADATA)
    return buf.getvalue()


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # attaches the Agg canvas; pyplot and its global state are never used
    return fig


def plot_gains(summary: pd.DataFrame, primary: str) -> bytes | None:
    """Bar chart of the relative gain per distilled row, one panel per dataset, bars grouped by
    student, error bars = std over seeds; the paper's headline gain as a dashed line. None when
    there is nothing to plot."""
    summary = summary[summary["gain"].notna()]
    if summary.empty:
        return None
    import matplotlib

    with_label = bool(summary["label"].astype(bool).any())
    with_data = summary["data"].nunique() > 1
    names = list(dict.fromkeys(_name(r, with_label) for _, r in summary.iterrows()))
    datasets = list(dict.fromkeys(summary["dataset"]))
    with matplotlib.rc_context(_STYLE):
        palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
        colour = {name: palette(i % palette.N) for i, name in enumerate(names)}
        widths = []
        for dataset in datasets:
            sub = summary[summary["dataset"] == dataset]
            widths.append(1.0 + 0.35 * len(sub) + 0.3 * sub[["data", "student"]].drop_duplicates().shape[0])
        fig = _figure(min(16.0, max(4.5, sum(widths) + 1.5)), 3.6)
        axes = fig.subplots(1, len(datasets), squeeze=False, width_ratios=widths)[0]
        handles: dict[str, Any] = {}
        for ax, dataset in zip(axes, datasets):
            sub = summary[summary["dataset"] == dataset]
            x, ticks, tick_labels = 0.0, [], []
            for (data, student), group in sub.groupby(["data", "student"], sort=False):
                start = x
                for _, r in group.iterrows():
                    name = _name(r, with_label)
                    err = r["gain_std"] if r["n"] >= 2 and not math.isnan(r["gain_std"]) else None
                    bar = ax.bar(x, r["gain"], width=0.8, color=colour[name], yerr=err, capsize=2,
                                 error_kw={"elinewidth": 0.8}, label=name)
                    handles.setdefault(name, bar)
                    x += 1.0
                ticks.append((start + x - 1.0) / 2.0)
                tick_labels.append(f"{student} ({data})" if with_data else str(student))
                x += 0.6
            ax.axhline(0.0, color="black", linewidth=0.8)
            headline = HEADLINE_GAIN_PCT.get(str(dataset))
            if headline is not None:
                ax.axhline(headline, color="dimgray", linestyle="--", linewidth=1.0)
                ax.annotate(f"paper: +{headline:g} %", xy=(1.0, headline), xycoords=("axes fraction", "data"),
                            xytext=(-2, 2), textcoords="offset points", ha="right", va="bottom",
                            color="dimgray", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
            ax.set_xticks(ticks, tick_labels)
            ax.set_xlim(-0.8, x - 0.2)
            ax.set_title(str(dataset))
        axes[0].set_ylabel(f"relative gain in {primary} (%)")
        fig.legend(list(handles.values()), list(handles.keys()), title="teacher / loss",
                   loc="outside right upper")
        return _png(fig)


def plot_teacher_vs_gain(summary: pd.DataFrame, primary: str) -> bytes | None:
    """Scatter of the teacher's own primary metric against the student's relative gain, one point
    per teacher × loss × student × dataset. None when no row has both numbers."""
    summary = summary[summary["gain"].notna() & summary["teacher_score"].notna()]
    if summary.empty:
        return None
    import matplotlib

    markers = "osD^v<>PX*"
    datasets = list(dict.fromkeys(summary["dataset"]))
    losses = list(dict.fromkeys(summary["loss"]))
    with matplotlib.rc_context(_STYLE):
        palette = matplotlib.colormaps["tab10"]
        fig = _figure(6.4, 4.0)
        ax = fig.subplots()
        for i, dataset in enumerate(datasets):
            for j, loss in enumerate(losses):
                sub = summary[(summary["dataset"] == dataset) & (summary["loss"] == loss)]
                if sub.empty:
                    continue
                ax.scatter(sub["teacher_score"], sub["gain"], color=palette(i % palette.N),
                           marker=markers[j % len(markers)], s=28, label=f"{dataset}, {loss}")
                for _, r in sub.iterrows():
                    ax.annotate(f"{r['teacher']} → {r['student']}", (r["teacher_score"], r["gain"]),
                                xytext=(3, 3), textcoords="offset points", fontsize=6)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.margins(x=0.15, y=0.12)  # room for the point labels
        ax.set_xlabel(f"teacher {primary} on val (mean over seeds)")
        ax.set_ylabel(f"student relative gain in {primary} (%)")
        ax.legend(title="dataset, loss", loc="best")
        return _png(fig)


def render_plots(board: Leaderboard, records: Iterable[dict[str, Any]] | None) -> dict[str, bytes]:
    """The PNG of every plot the board has data for, by file name. ``records`` (those the board
    was built from) give the per-seed gains and teacher scores; without them the gain plot shows
    the table's ratio of means."""
    summary = summarize(board, None if records is None else list(records))
    drawn = {GAIN_PNG: plot_gains(summary, board.primary_text()),
             TEACHER_PNG: plot_teacher_vs_gain(summary, board.primary_text())}
    return {name: png for name, png in drawn.items() if png is not None}
