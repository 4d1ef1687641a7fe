"""Everything that can be checked before training, for every dataset, feature source, student,
teacher and metric a matrix uses (``bench data doctor``; ``bench run`` runs the cheap ones).

Checks, in order, per dataset of the matrix:

- ``annotations``: every file of the dataset's manifest against its sha256 (cheap);
- ``splits``: the segments each split keeps and drops, with the reasons (cheap);
- ``predictions``: the splits of ``train.save_predictions`` exist (cheap);
- ``class-lists``: what every requested metric needs, e.g. the many-shot lists (cheap);
- ``teacher-cache``: an existing cache entry's rows against the splits' sample uids (cheap);
- ``features``: per feature source and split, the coverage of the needed keys after the search
  back, their width and dtype, NaN / Inf / all-zero vectors on a sample
  (:meth:`benchmark.api.FeatureSource.inspect`);
- ``student-input``: what each student needs from those features
  (:meth:`benchmark.api.Student.input_problem`).

Each check is one line; the exit code is 0 when all are ``ok``, 1 with warnings, 2 with errors.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from .checks import Check
from .runid import canonical_json

if TYPE_CHECKING:
    from .api import AnticipationData
    from .matrix import Cell, Matrix
    from .run import Runner


def diagnose(runner: "Runner", matrix: "Matrix", cheap_only: bool = False, sample: int = 256) -> list[Check]:
    """Every check of the matrix's datasets; ``cheap_only`` skips the feature files."""
    checks: list[Check] = []
    for cell in _first(matrix.cells, lambda c: ("dataset", c.components["dataset"], c.configs["dataset"])):
        files = annotation_checks(runner, cell)
        checks += files
        bad_files = any(c.level == "error" for c in files)
        if bad_files and cheap_only:
            continue  # before a run, the damaged file is the one fault worth a line
        # the doctor loads bad files anyway, as every other fault is worth seeing in the same
        # report; a load that fails on them would only repeat the annotation error
        seen = [] if bad_files else checks
        data = _attempt(seen, "splits", cell.dataset, lambda: runner.load_data(cell))
        if data is None:
            continue
        checks.append(split_check(cell.dataset, data))
        same = [c for c in matrix.cells if c.dataset == cell.dataset]
        checks += prediction_checks(same, data)
        checks += metric_checks(runner, cell, data)
        checks += teacher_checks(runner, same, data)
        if not cheap_only:
            checks += feature_checks(runner, same, data, sample)
    return checks


# ----------------------------------------------------------------------------- the checks


def annotation_checks(runner: "Runner", cell: "Cell") -> list[Check]:
    from .download import PRESENT, check, load_manifest

    cls = runner.plugins.get("dataset", cell.components["dataset"])
    if cls.manifest_file is None:
        return [Check("annotations", cell.dataset, "ok", "generated: no files")]
    statuses = check(runner.data_dir, cls.name, load_manifest(cls.manifest_file))
    bad = [s for s in statuses if s.state != PRESENT]
    if bad:
        shown = ", ".join(f"{s.file.path} ({s.state})" for s in bad[:3])
        return [Check("annotations", cell.dataset, "error",
                      f"{len(bad)} of {len(statuses)} files missing or failing their sha256 in "
                      f"{runner.data_dir / cls.name}: {shown}; run `bench data download {cls.name}`",
                      details={"files": {s.file.path: s.state for s in statuses}})]
    return [Check("annotations", cell.dataset, "ok", f"{len(statuses)} files match their sha256")]


def split_check(subject: str, data: "AnticipationData") -> Check:
    parts, empty = [], []
    for split, samples in data.splits.items():
        dropped = data.dropped.get(split, {})
        why = "; ".join(f"{n:,} dropped: {reason}" for reason, n in dropped.items())
        parts.append(f"{split} {len(samples):,} kept" + (f" ({why})" if why else ""))
        if not samples:
            empty.append(split)
    level = "error" if empty else "ok"
    message = ", ".join(parts) + (f"; split {', '.join(empty)} has no sample" if empty else "")
    return Check("splits", subject, level, message,
                 details={"kept": {k: len(v) for k, v in data.splits.items()}, "dropped": data.dropped})


def prediction_checks(cells: list["Cell"], data: "AnticipationData") -> list[Check]:
    """``train.save_predictions`` must name splits the dataset has (cheap)."""
    wanted = sorted({split for c in cells for split in c.train.get("save_predictions") or []})
    if not wanted:
        return []
    known = set(data.splits) | set(data.unlabelled)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        return [Check("predictions", data.name, "error",
                      f"train.save_predictions: {data.name} has no split {', '.join(map(repr, unknown))} "
                      f"(it has {', '.join(sorted(known))})")]
    return [Check("predictions", data.name, "ok", "predictions kept for " + ", ".join(
        f"{s} ({len(data.samples(s)):,} segments{'' if data.is_labelled(s) else ', no labels'})" for s in wanted))]


def metric_checks(runner: "Runner", cell: "Cell", data: "AnticipationData") -> list[Check]:
    out = []
    for name in cell.metrics:
        found = runner.plugins.get("metric", name)().requirement(data)
        out.append(Check("class-lists", f"{cell.dataset}/{name}", found.level, found.message))
    return out


def teacher_checks(runner: "Runner", cells: list["Cell"], data: "AnticipationData") -> list[Check]:
    from .run.inputs import split_uids

    out = []
    teachers = [c for c in cells if not runner.plugins.get("teacher", c.components["teacher"]).is_null]
    for cell in _first(teachers, lambda c: (c.components["teacher"], c.configs["teacher"], c.train["teacher_seed"],
                                            c.train.get("teacher_cross_fit", 0), c.train["teacher_threads"])):
        key = runner.cache.key(runner.teachers.content(cell, data.fingerprint))
        subject = f"{cell.dataset}/{cell.teacher}"
        if runner.cache.load(key) is None:
            out.append(Check("teacher-cache", subject, "ok", "not fitted yet: the first cell that needs it fits it"))
            continue
        uids = split_uids(data)
        if runner.cache.uids(key) is None:
            out.append(Check("teacher-cache", subject, "warning",
                             f"{runner.cache.path(key)} records no sample uids: its rows cannot be checked; "
                             "delete it to refit"))
            continue
        problem = runner.cache.coverage_problem(key, uids)
        out.append(Check("teacher-cache", subject, "error" if problem else "ok",
                         problem or "soft labels for every sample: "
                         + ", ".join(f"{split} {len(u):,}" for split, u in uids.items())))
    return out


def feature_checks(runner: "Runner", cells: list["Cell"], data: "AnticipationData", sample: int) -> list[Check]:
    out: list[Check] = []
    for cell in _first(cells, lambda c: (c.components["feature_source"], c.configs["feature_source"])):
        source = runner.components.build(cell, "feature_source")
        subject = f"{cell.dataset}/{cell.feature_source}"
        reports = {}
        for split in ("train", "val"):
            report = _attempt(out, "features", f"{subject} {split}", lambda: source.inspect(data, split, sample))
            if report is None:
                continue
            reports[split] = report
            out += [Check("features", f"{subject} {split}", f.level, f.message, cheap=False) for f in report.findings]
        if "train" not in reports:
            continue
        users = [c for c in cells if (c.components["feature_source"], c.configs["feature_source"])
                 == (cell.components["feature_source"], cell.configs["feature_source"])]
        for user in _first(users, lambda c: (c.components["student"], c.configs["student"])):
            problem = runner.components.build(user, "student").input_problem(reports["train"].info)
            out.append(Check("student-input", f"{subject} -> {user.student}", "error" if problem else "ok",
                             problem or "the features fit the student", cheap=False))
    return out


# ----------------------------------------------------------------------------- helpers


def _first(cells: Iterable["Cell"], key: Callable[["Cell"], Any]) -> list["Cell"]:
    """The first cell of each distinct ``key``, in matrix order."""
    seen: dict[str, "Cell"] = {}
    for cell in cells:
        seen.setdefault(canonical_json(key(cell)), cell)
    return list(seen.values())


def _attempt(checks: list[Check], check: str, subject: str, fn: Callable[[], Any]) -> Any:
    """``fn()``, or None after recording its failure as an error line."""
    try:
        return fn()
    except Exception as exc:  # a check that cannot run is a finding, never a traceback
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        checks.append(Check(check, subject, "error", message, cheap=check != "features"))
        return None


def summary(checks: list[Check]) -> str:
    counts = {level: sum(c.level == level for c in checks) for level in ("ok", "warning", "error")}
    return f"{len(checks)} checks: " + ", ".join(f"{n} {level}" for level, n in counts.items())
