"""The table model of every leaderboard: rows from run records and baseline tables, Δ, relative
gain, the paired test, and the notes that explain them, as data the renderers only format.

Rows are (source, data, student, teacher, loss); columns are dataset x metric, shown as
``mean ± std (n)`` over seeds, then per dataset the change of the primary metric against the
reference row: the same student with no teacher and no distillation, from the same source.
That relative gain is the quantity the paper's headline reports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from ..api import SELECTED_NOTE, SELECTED_ROW_LABEL, BaselineTable
from ..coverage import ZERO_FILLED_MARK, ZERO_FILLED_NOTE
from ..records import row_label

OURS = "this suite"
#: the images a leaderboard page may show, in ``<stem>_files/``; only these are ever removed there
GAIN_PNG = "relative_gain.png"
TEACHER_PNG = "teacher_vs_gain.png"
PLOT_FILES = (GAIN_PNG, TEACHER_PNG)
#: the paired p-value below which a row is marked significant
SIGNIFICANCE = 0.05


@dataclass
class Leaderboard:
    long: pd.DataFrame  # one row per (row key, dataset, metric)
    failed: list[dict[str, Any]]
    baselines: list[BaselineTable]
    primary: str
    higher_is_better: dict[str, bool]
    reference: str | None = None
    #: dataset -> primary metric where it differs from ``primary`` (e.g. EGTEA's top-1)
    primary_by_dataset: dict[str, str] = field(default_factory=dict)
    #: (cells recorded, cells of the matrix) for a matrix's board; None when not a matrix's
    cells: tuple[int, int] | None = None

    @property
    def partial(self) -> bool:
        """A matrix's board while some of its cells have no record yet."""
        return self.cells is not None and self.cells[0] < self.cells[1]

    def partial_text(self) -> str:
        """``partial: 12 of 40 cells`` (empty for a complete board)."""
        return f"partial: {self.cells[0]} of {self.cells[1]} cells" if self.partial and self.cells else ""

    def wide(self) -> pd.DataFrame:
        return _wide(self)

    def primary_of(self, dataset: str) -> str:
        return self.primary_by_dataset.get(dataset, self.primary)

    def primary_text(self) -> str:
        """``top5_action`` or ``top5_action; egtea: top1_action`` (for captions)."""
        shown = [f"{d}: {m}" for d, m in self.primary_by_dataset.items()
                 if m != self.primary and (self.long.empty or d in set(self.long["dataset"]))]
        return "; ".join([self.primary, *shown])


ROW_KEYS = ["source", "data", "student", "teacher", "loss", "label"]


def _fmt(mean: float, std: float, n: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    if n <= 1 or std is None or math.isnan(std):
        return f"{mean:.2f}" + (f" (n={n})" if n else "")
    return f"{mean:.2f} ± {std:.2f} (n={n})"


def build(records: Iterable[dict[str, Any]], baselines: list[BaselineTable], primary: str,
          metrics: list[str] | None = None, reference: str | None = None,
          primary_by_dataset: dict[str, str] | None = None) -> Leaderboard:
    rows, failed, hib = [], [], {}
    for rec in records:
        if rec.get("status") != "ok":
            failed.append(rec)
            continue
        hib.update(rec.get("higher_is_better") or {})
        cell = rec["cell"]
        for metric, value in (rec.get("metrics") or {}).items():
            if (metrics and metric not in metrics) or value is None:
                continue
            baseline = cell.get("baseline", cell["teacher"] == "none" and cell["loss"] == "none")
            scratch = (rec.get("teacher_info") or {}).get("init") == "scratch"
            rows.append({
                "source": OURS, "data": rec.get("data_kind", "real"), "student": cell["student"],
                "teacher": cell["teacher"] + (" (scratch)" if scratch else ""), "loss": cell["loss"], "label": row_label(rec),
                "baseline": bool(baseline),
                "dataset": cell["dataset"], "metric": metric, "seed": cell["seed"], "value": float(value),
            })
    ours = pd.DataFrame(rows, columns=ROW_KEYS + ["baseline", "dataset", "metric", "seed", "value"])
    agg = (
        ours.groupby(ROW_KEYS + ["baseline", "dataset", "metric"], dropna=False, sort=False)["value"]
        .agg(mean="mean", std="std", n="count").reset_index()
    )
    published = []
    datasets = set(agg["dataset"]) if len(agg) else set()
    for table in baselines:
        for row in table.rows:
            if datasets and row.dataset not in datasets:
                continue
            for metric, value in row.metrics.items():
                if metrics and metric not in metrics:
                    continue
                published.append({
                    "source": table.name, "data": "published", "student": row.student,
                    "teacher": row.teacher, "loss": row.loss, "label": row.label or "",
                    "baseline": row.teacher == "none" and row.loss == "none",
                    "dataset": row.dataset, "metric": metric, "mean": value, "std": float("nan"), "n": 0,
                    "uncertain": row.uncertain,
                })
    agg["uncertain"] = False
    long = pd.concat([agg, pd.DataFrame(published, columns=list(agg.columns))], ignore_index=True)
    long = long.astype({"mean": float, "std": float, "n": int, "baseline": bool, "uncertain": bool})
    long = _add_deltas(long, reference)
    by_dataset = dict(primary_by_dataset or {})
    long = _add_paired(long, ours, primary, reference, by_dataset)
    return Leaderboard(long, failed, baselines, primary, hib, reference, by_dataset)


def paired_test(diffs: list[float]) -> tuple[float, float, float]:
    """(mean, std, two-sided p of the paired t-test) of per-seed differences; p is NaN for
    fewer than two pairs, 1.0 when every difference is zero."""
    import numpy as np

    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return (float(d.mean()) if len(d) else float("nan")), float("nan"), float("nan")
    mean, std = float(d.mean()), float(d.std(ddof=1))
    if std == 0.0:
        return mean, std, 1.0 if mean == 0.0 else 0.0
    from scipy import stats

    t = mean / (std / math.sqrt(len(d)))
    return mean, std, float(2.0 * stats.t.sf(abs(t), df=len(d) - 1))


def _add_paired(long: pd.DataFrame, ours: pd.DataFrame, primary: str, reference: str | None,
                by_dataset: dict[str, str] | None = None) -> pd.DataFrame:
    """Paired comparison of each of our rows with its no-teacher row over the seeds both have:
    seed noise is often as large as a distillation effect, so unpaired means mislead."""
    long = long.copy()
    for col in ("paired_delta", "paired_std", "p_value"):
        long[col] = float("nan")
    long["paired_n"] = 0
    long["wins"] = 0
    if ours.empty or reference:
        return long
    by_dataset = by_dataset or {}
    prim = ours[ours["metric"] == ours["dataset"].map(lambda d: by_dataset.get(d, primary))]
    base = prim[prim["baseline"]]
    base_values = {(r["data"], r["student"], r["dataset"], r["seed"]): r["value"] for _, r in base.iterrows()}
    groups = prim[~prim["baseline"]].groupby(ROW_KEYS + ["dataset"], dropna=False, sort=False)
    for key, group in groups:
        row = dict(zip(ROW_KEYS + ["dataset"], key))
        diffs = [r["value"] - base_values[(r["data"], r["student"], r["dataset"], r["seed"])]
                 for _, r in group.iterrows() if (r["data"], r["student"], r["dataset"], r["seed"]) in base_values]
        if not diffs:
            continue
        mean, std, p = paired_test(diffs)
        mask = ((long["source"] == OURS) & (long["metric"] == by_dataset.get(row["dataset"], primary))
                & (long["dataset"] == row["dataset"]))
        for k in ROW_KEYS:
            mask &= long[k] == row[k]
        long.loc[mask, ["paired_delta", "paired_std", "p_value"]] = [mean, std, p]
        long.loc[mask, "paired_n"] = len(diffs)
        long.loc[mask, "wins"] = int(sum(d > 0 for d in diffs))
    return long


def _add_deltas(long: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Δ and relative gain against the same source/data/student with teacher=none, loss=none,
    or, with ``reference="SOURCE:LABEL"``, against that one row for every row of a dataset."""
    long = long.copy()
    long["delta"] = float("nan")
    long["rel_gain_pct"] = float("nan")
    if long.empty:
        return long
    if reference:
        return _deltas_against(long, reference)
    ref = long[long["baseline"]]
    # For published tables a reference must be unambiguous: the first such row of the table.
    ref = ref.drop_duplicates(["source", "data", "student", "dataset", "metric"], keep="first")
    ref = ref.set_index(["source", "data", "student", "dataset", "metric"])["mean"]
    for i, row in long.iterrows():
        key = (row["source"], row["data"], row["student"], row["dataset"], row["metric"])
        if key in ref.index and not row["baseline"]:
            base = float(ref.loc[key])
            long.at[i, "delta"] = row["mean"] - base
            long.at[i, "rel_gain_pct"] = (row["mean"] - base) / base * 100.0 if base else float("nan")
    return long


def _deltas_against(long: pd.DataFrame, reference: str) -> pd.DataFrame:
    source, _, label = reference.partition(":")
    chosen = long[long["source"] == source]
    chosen = chosen[chosen["label"] == label] if label else chosen[chosen["baseline"]]
    if chosen.empty:
        from ..errors import ConfigError

        known = sorted({f"{s}:{lab}" if lab else s for s, lab in zip(long["source"], long["label"])})
        raise ConfigError(f"leaderboard reference '{reference}' matches no row; rows: {', '.join(known)}")
    ref = chosen.drop_duplicates(["dataset", "metric"]).set_index(["dataset", "metric"])["mean"]
    for i, row in long.iterrows():
        key = (row["dataset"], row["metric"])
        if key in ref.index:
            base = float(ref.loc[key])
            long.at[i, "delta"] = row["mean"] - base
            long.at[i, "rel_gain_pct"] = (row["mean"] - base) / base * 100.0 if base else float("nan")
    return long


def _wide(board: Leaderboard) -> pd.DataFrame:
    long = board.long
    if long.empty:
        return pd.DataFrame(columns=ROW_KEYS)
    long = long.assign(text=[_fmt(m, s, int(n)) + (" †" if u else "")
                             for m, s, n, u in zip(long["mean"], long["std"], long["n"], long["uncertain"])])
    datasets = list(dict.fromkeys(long["dataset"]))
    all_metrics = list(dict.fromkeys(long["metric"]))
    order = list(dict.fromkeys(map(tuple, long[ROW_KEYS].values.tolist())))
    table = pd.DataFrame(order, columns=ROW_KEYS)
    index = {key: i for i, key in enumerate(order)}
    for dataset in datasets:
        primary = board.primary_of(dataset)
        metrics = [primary] + [m for m in all_metrics if m != primary] if primary in all_metrics else all_metrics
        for metric in metrics:
            sub = long[(long["dataset"] == dataset) & (long["metric"] == metric)]
            if sub.empty:
                continue
            arrow = "↑" if board.higher_is_better.get(metric, True) else "↓"
            col = [""] * len(order)
            for _, r in sub.iterrows():
                col[index[tuple(r[k] for k in ROW_KEYS)]] = r["text"]
            table[f"{dataset} {metric} {arrow}"] = col
            if metric == primary:
                delta = [""] * len(order)
                rel = [""] * len(order)
                for _, r in sub.iterrows():
                    if not math.isnan(r["delta"]):
                        j = index[tuple(r[k] for k in ROW_KEYS)]
                        delta[j] = f"{r['delta']:+.2f}"
                        rel[j] = f"{r['rel_gain_pct']:+.1f}%"
                table[f"{dataset} Δ {metric}"] = delta
                table[f"{dataset} rel. gain"] = rel
                if (sub["paired_n"] >= 2).any():
                    paired = [""] * len(order)
                    pval = [""] * len(order)
                    for _, r in sub.iterrows():
                        if r["paired_n"] >= 2:
                            j = index[tuple(r[k] for k in ROW_KEYS)]
                            paired[j] = (f"{r['paired_delta']:+.2f} ± {r['paired_std']:.2f} "
                                         f"({int(r['wins'])}/{int(r['paired_n'])} seeds up)")
                            pval[j] = f"{r['p_value']:.3f}"
                    table[f"{dataset} paired Δ"] = paired
                    table[f"{dataset} p (paired t)"] = pval
    # ours first, baseline row first within a student, then by teacher/loss
    table["_ours"] = table["source"] != OURS
    base_keys = {tuple(r[k] for k in ROW_KEYS) for _, r in long[long["baseline"]].iterrows()}
    table["_base"] = [tuple(r[k] for k in ROW_KEYS) not in base_keys for _, r in table.iterrows()]
    table = table.sort_values(["_ours", "source", "data", "student", "_base", "teacher", "loss"], kind="stable")
    return table.drop(columns=["_ours", "_base"]).reset_index(drop=True)


def files_dir(stem: str) -> str:
    """The folder, next to the page, of a leaderboard's images."""
    return f"{stem}_files"


def shown_table(board: Leaderboard) -> tuple[pd.DataFrame, list[tuple]]:
    """The wide table every format shows (the label column dropped when no row has a label) and
    each row's key."""
    wide = board.wide()
    keys = [tuple(r[k] for k in ROW_KEYS) for _, r in wide.iterrows()]
    if "label" in wide and not wide["label"].astype(bool).any():
        wide = wide.drop(columns=["label"])
    return wide, keys


def smallest_p_values(board: Leaderboard) -> dict[tuple, float]:
    """The smallest paired p-value of each row key."""
    long = board.long
    pvals: dict[tuple, float] = {}
    if not long.empty and "p_value" in long:
        for _, r in long[long["p_value"].notna()].iterrows():
            key = tuple(r[k] for k in ROW_KEYS)
            pvals[key] = min(pvals.get(key, math.inf), float(r["p_value"]))
    return pvals


@dataclass(frozen=True)
class Note:
    """One explanation under a leaderboard's title, as parts a renderer formats: ``text``, ``code``
    (a literal: backticks in Markdown, ``<code>`` in HTML) and ``name`` (a metric name: plain in
    Markdown, ``<code>`` in HTML)."""

    parts: tuple[tuple[str, str], ...]
    after_table: bool = False  # Markdown shows it under the table, next to the published tables

    @classmethod
    def from_markdown(cls, text: str, after_table: bool = False) -> "Note":
        """A note written with `backticks` for its literals."""
        pieces = text.split("`")
        return cls(tuple(("code" if i % 2 else "text", piece) for i, piece in enumerate(pieces) if piece),
                   after_table)


def notes(board: Leaderboard, wide: pd.DataFrame) -> list[Note]:
    """What the table needs explained, in order."""
    out = [Note.from_markdown("Cells show mean ± std over seeds (n = number of seeds).")]
    if board.partial:
        out.insert(0, Note.from_markdown(
            f"Partial: {board.cells[0]} of {board.cells[1]} cells recorded; the other cells are running or have "
            "not run yet, and this leaderboard is rewritten as each one finishes."))
    compare = (("text", "Δ and relative gain compare the primary metric ("), ("name", board.primary_text()))
    if board.reference:
        out.append(Note(compare + (("text", ") with the row "), ("code", board.reference), ("text", "."))))
    else:
        out.append(Note(compare + (("text", ") with the row of the same source, data and student that has "
                                            "teacher "), ("code", "none"), ("text", " and loss "),
                                   ("code", "none"), ("text", "."))))
    if any(str(c).endswith("paired Δ") for c in wide.columns):
        out.append(Note.from_markdown(
            "Paired Δ: mean ± std over seeds of (row − no-teacher row of the same seed), with how many "
            "seeds improved, and the two-sided p-value of a paired t-test (no correction for the number of rows)."))
    if set(wide["data"] if "data" in wide else []) & {"synthetic", "simulated"}:
        out.append(Note.from_markdown(
            "Rows whose `data` is `synthetic` or `simulated` were computed on generated data or "
            "simulated features: they show how methods behave, not what they score on real video."))
    for mark, text in ((SELECTED_ROW_LABEL, SELECTED_NOTE), (ZERO_FILLED_MARK, ZERO_FILLED_NOTE)):
        if "label" in wide and wide["label"].astype(str).str.contains(mark, regex=False).any():
            out.append(Note.from_markdown(text))
    if not board.long.empty and board.long["uncertain"].any():
        out.append(Note.from_markdown("† the source of this published number could not be checked exactly "
                                      "(see the table's notes).", after_table=True))
    return out
