"""The table of malformed inputs (docs/faults.md lists the same cases): one row per fault, run
by one test through the real command line, in this process.

Every row ends in one of three ways, never with a traceback nor a half-written file:

- ``config``: exit 2, one ``bench: error:`` line naming the culprit, nothing run or written;
- ``cell``: exit 1, the faulty cell recorded ``failed`` with its reason, the other cells ``ok``;
- ``recovered``: exit 0, a damaged file the suite can rebuild (a record, a cache entry) rebuilt
  whole, or a faulty after-cell hook reported as a warning.
"""
from __future__ import annotations

import json
import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import lmdb
import numpy as np
import pytest
import yaml

from benchmark.cli import main
from benchmark.protocol import frames_of
from plugins.features import lmdb_source

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

DATASET = {"train_videos": 4, "val_videos": 2, "segments_per_video": 10}
BASE: dict[str, Any] = {
    "matrix": {"dataset": "synthetic", "student": "gru"},
    "train": {"epochs": 1, "batch_size": 32},
    "metrics": ["top1_action"],
    "components": {"dataset": {"synthetic": DATASET}, "student": {"gru": {"hidden": 8}},
                   "feature_source": {"simulated": {"dim": 8}}},
}
#: two students over the same cells: a fault aimed at ``gru`` leaves ``other`` running
TWO_STUDENTS = {"matrix": {"dataset": "synthetic", "student": ["gru", "other"]},
                "components": {"student": {"other": {"use": "gru", "hidden": 4}}}}


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def write_matrix(tmp: Path, over: dict | None = None, text: str | None = None) -> Path:
    path = tmp / "m.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(merge(BASE, over or {})), encoding="utf-8")
    return path


def run_args(matrix: Path, *extra: str) -> list[str]:
    return ["run", "--matrix", str(matrix), "--no-progress", "--no-download", *extra]


def plugin(tmp: Path, name: str, body: str) -> str:
    folder = tmp / "plugs"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return str(folder)


def matrix_case(over: dict | None = None, *extra: str, text: str | None = None) -> Callable[[Path], list[str]]:
    return lambda tmp: run_args(write_matrix(tmp, over, text), *extra)


# ----------------------------------------------------------------------------- LMDB helpers


def synthetic_keys() -> list[bytes]:
    from benchmark.config import build_config
    from benchmark.plugin_manager import get_plugins

    cls = get_plugins().get("dataset", "synthetic")
    data = cls(build_config(cls.Config, DATASET, "test")).load(None)
    return sorted({lmdb_source.frame_key(s.video, int(f)) for split in ("train", "val")
                   for s in data.splits[split] for f in frames_of(data.obs_times(s))})


def write_lmdb(path: Path, keys: list[bytes], nbytes: Callable[[int], int] = lambda i: 16) -> None:
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, key in enumerate(keys):
            txn.put(key, np.ones(nbytes(i) // 4, dtype="<f4").tobytes())
    env.close()


def lmdb_case(prepare: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """Student ``gru`` reads the LMDB that ``prepare`` makes, ``other`` simulated features."""
    def build(tmp: Path) -> list[str]:
        lmdb_source.clear_cache()
        prepare(tmp / "feats" / "rgb")
        over = merge(TWO_STUDENTS, {"feature_source": {"synthetic/gru": "lmdb", "default": "simulated"},
                                    "components": {"feature_source": {"lmdb": {"root": str(tmp / "feats")}}}})
        return run_args(write_matrix(tmp, over))
    return build


def random_bytes_mdb(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "data.mdb").write_bytes(np.random.default_rng(0).bytes(64 * 1024))


# ----------------------------------------------------------------------------- annotations


def epic_case(damage: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        if not (SHARED / "epic55").is_dir():
            pytest.skip("annotation files not available")
        shutil.copytree(SHARED / "epic55", tmp / "data" / "epic55")
        damage(tmp / "data" / "epic55")
        matrix = write_matrix(tmp, {"matrix": {"dataset": "epic55"}})
        return run_args(matrix, "--data-dir", str(tmp / "data"))
    return build


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ----------------------------------------------------------------------------- plugins

FAULTY = '''
from dataclasses import dataclass
import numpy as np
from benchmark import Metric, Student, Teacher, TeacherOutput, hookimpl, setting

class FaultyTeacher(Teacher):
    name = "faulty"
    input_kind = "ids"
    @dataclass
    class Config:
        fail: str = "fit"   # fit | shape
        scale: float = setting(1.0, gt=0.0)
        def __post_init__(self):
            if self.fail not in ("fit", "shape"):
                raise ValueError(f"fail: expected 'fit' or 'shape', got {self.fail!r}")
    def fit(self, data, accelerator, seed, context):
        if self.config.fail == "fit":
            raise RuntimeError("faulty teacher: fit exploded")
    def predict(self, data, split, accelerator):
        return TeacherOutput(np.zeros((len(data.splits[split]), 3), dtype=np.float32))

class BrokenStudent(Student):
    name = "broken-student"
    def build(self, input_dim, num_classes):
        raise RuntimeError("broken student: cannot build")

class FailingMetric(Metric):
    name = "failing-metric"
    def compute(self, scores, targets, data):  # fails on the dataset with 2 validation videos only
        if len({s.video for s in data.splits["val"]}) == 2:
            raise ZeroDivisionError("failing metric: nothing to divide")
        return 0.0

@hookimpl
def bench_register_teachers():
    return [FaultyTeacher]

@hookimpl
def bench_register_students():
    return [BrokenStudent]

@hookimpl
def bench_register_metrics():
    return [FailingMetric]
'''


def faulty_case(over: dict, name: str = "faulty_parts") -> Callable[[Path], list[str]]:
    return lambda tmp: run_args(write_matrix(tmp, over), "--plugins-dir", plugin(tmp, name, FAULTY))


def hook_case(hook: str, body: str, over: dict | None = None) -> Callable[[Path], list[str]]:
    source = f'''
    from benchmark import hookimpl

    @hookimpl
    def {hook}({body.split(":", 1)[0]}):
        {body.split(":", 1)[1].strip()}
    '''
    return lambda tmp: run_args(write_matrix(tmp, over if over is not None else TWO_STUDENTS),
                                "--plugins-dir", plugin(tmp, f"hook_{hook}", source))


# ----------------------------------------------------------------------------- recoveries


def rerun_after(damage: Callable[[Path], None], over: dict | None = None) -> Callable[[Path], list[str]]:
    """Run the matrix once, damage what it wrote, and give the command that runs it again."""
    def build(tmp: Path) -> list[str]:
        args = run_args(write_matrix(tmp, over))
        assert main(args) == 0
        damage(tmp / "runs")
        return args
    return build


def truncate_a_record(runs: Path) -> None:
    truncate(next(runs.glob("*/record.json")))


def truncate_the_teacher_cache(runs: Path) -> None:
    truncate(next((runs / "_cache" / "teachers").glob("*/outputs.safetensors")))
    for record in runs.glob("*/record.json"):
        record.unlink()  # the cells run again and need the teacher


def truncate_the_cache_meta(runs: Path) -> None:
    truncate(next((runs / "_cache" / "teachers").glob("*/meta.json")))
    for record in runs.glob("*/record.json"):
        record.unlink()


WITH_TEACHER = {"matrix": {"teacher": ["none", "ngram"], "loss": ["none", "kl"]}}


# ----------------------------------------------------------------------------- the table


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[str]]
    outcome: str  # config | cell | recovered
    culprit: str  # regex: the error line, the failed cell's error, or the warning


CASES = [
    # YAML and the shape of a matrix
    Case("yaml-syntax", matrix_case(text="matrix:\n  dataset: [synthetic\n  student: gru\n"), "config",
         r"m\.yaml:\d+: invalid YAML"),
    Case("yaml-top-level-list", matrix_case(text="- synthetic\n- gru\n"), "config",
         r"m\.yaml: expected a mapping at the top level, got list"),
    Case("yaml-unknown-top-level-key", matrix_case({"trian": {"epochs": 1}}), "config", r"unknown top-level key 'trian'"),
    Case("yaml-no-matrix", matrix_case(text="train: {epochs: 1}\n"), "config", r"missing 'matrix:' mapping"),
    Case("unknown-axis", matrix_case({"matrix": {"teachr": "none"}}), "config", r"matrix\.teachr: unknown axis"),
    Case("unknown-teacher", matrix_case({"matrix": {"teacher": "ngramm", "loss": "kl"}}), "config",
         r"unknown teacher 'ngramm'.*Did you mean 'ngram'"),
    Case("unknown-config-key", matrix_case({"components": {"student": {"gru": {"hiden": 8}}}}), "config",
         r"components\.student\.gru: unknown key 'hiden'.*Did you mean 'hidden'"),
    Case("wrong-type", matrix_case({"train": {"epochs": "ten"}}), "config", r"train\.epochs: expected int, got 'ten'"),
    Case("negative-epochs", matrix_case({"train": {"epochs": -1}}), "config", r"train\.epochs: expected >= 1, got -1"),
    Case("zero-batch-size", matrix_case({"train": {"batch_size": 0}}), "config", r"train\.batch_size: expected >= 1, got 0"),
    Case("negative-lr", matrix_case({"train": {"lr": -0.1}}), "config", r"train\.lr: expected >= 0, got -0\.1"),
    Case("negative-temperature", matrix_case({**WITH_TEACHER, "components": {"loss": {"kl": {"temperature": -1}}}}),
         "config", r"components\.loss\.kl\.temperature: expected > 0, got -1"),
    Case("misspelt-reduction", matrix_case({**WITH_TEACHER, "components": {"loss": {"kl": {"reduction": "batchmaen"}}}}),
         "config", r"components\.loss\.kl\.reduction: expected one of 'batchmean', 'paper'.*Did you mean 'batchmean'"),
    Case("dropout-one", matrix_case({"components": {"student": {"gru": {"dropout": 1.0}}}}), "config",
         r"components\.student\.gru\.dropout: expected in \[0, 1\), got 1\.0"),
    Case("negative-top-k", matrix_case({**WITH_TEACHER, "components": {"loss": {"kl": {"top_k": -3}}}}), "config",
         r"components\.loss\.kl\.top_k: expected >= 0, got -3"),
    Case("seed-not-an-integer", matrix_case({"matrix": {"seed": ["a"]}}), "config", r"matrix\.seed: expected integers, got 'a'"),
    Case("warmup-longer-than-training", matrix_case({"train": {"warmup_epochs": 3}}), "config",
         r"warmup_epochs: expected at most epochs \(1\), got 3"),
    Case("one-fold-cross-fit", matrix_case({"train": {"teacher_cross_fit": 1}}), "config", r"teacher_cross_fit: expected 0"),
    Case("nesterov-without-sgd", matrix_case({"train": {"nesterov": True}}), "config", r"nesterov: needs optimizer sgd"),
    Case("protocol-that-does-not-fit", matrix_case({"matrix": {"dataset": "epic55"}, "components": {
        "dataset": {"epic55": {"sampling": "rulstm", "anticipation_s": 0.3}}}}), "config",
         r"components\.dataset\.epic55: with rulstm sampling anticipation_s must be a multiple of rulstm_alpha"),
    Case("egtea-split-4", matrix_case({"matrix": {"dataset": "egtea"}, "components": {"dataset": {"egtea": {"split": 4}}}}),
         "config", r"components\.dataset\.egtea\.split: expected one of 1, 2, 3, got 4"),
    Case("exclude-unknown-axis", matrix_case({"exclude": [{"studnet": "gru"}]}), "config",
         r"exclude\[0\]: unknown axis 'studnet'.*Did you mean 'student'"),
    Case("exclude-unknown-value", matrix_case({**WITH_TEACHER, "exclude": [{"teacher": "ngarm"}]}), "config",
         r"exclude\[0\]\.teacher: 'ngarm' is not a value of matrix\.teacher \(none, ngram\)\. Did you mean 'ngram'"),
    Case("include-unknown-value", matrix_case({"include": [{"dataset": "synthetic", "student": "grux"}]}), "config",
         r"include\[0\]\.student: 'grux' is not a registered student"),
    Case("primary-not-computed", matrix_case({"leaderboard": {"primary": "top5_action"}}), "config",
         r"leaderboard\.primary 'top5_action' is not computed"),
    Case("unknown-metric", matrix_case({"metrics": ["top1_acton"]}), "config", r"unknown metric 'top1_acton'"),
    Case("set-without-value", matrix_case(None, "--set", "train.epochs"), "config", r"--set 'train\.epochs': expected KEY=VALUE"),
    Case("base-cycle", matrix_case(text="_base_: m.yaml\nmatrix: {dataset: synthetic, student: gru}\n"), "config",
         r"_base_ inheritance cycle"),
    Case("matrix-file-missing", lambda tmp: run_args(tmp / "nope.yaml"), "config", r"nope\.yaml: no such matrix file"),
    Case("unknown-launcher-option", matrix_case({"launcher": {"name": "queue", "slotz": 2}}), "config",
         r"--launcher queue: unknown key 'slotz'.*Did you mean 'slots'"),
    # annotation files (a copy of the real EPIC-55 files, one damaged)
    Case("annotations-truncated-csv", epic_case(lambda d: truncate(d / "rulstm" / "training.csv")), "config",
         r"annotations epic55: 1 of 23 files missing or failing their sha256 .*rulstm/training\.csv \(bad checksum\)"),
    Case("annotations-random-bytes", epic_case(lambda d: (d / "rulstm" / "actions.csv").write_bytes(b"\x00\xff" * 99)),
         "config", r"rulstm/actions\.csv \(bad checksum\)"),
    Case("annotations-empty-file", epic_case(lambda d: (d / "rulstm" / "validation.csv").write_text("")), "config",
         r"rulstm/validation\.csv \(bad checksum\)"),
    Case("annotations-missing-file", epic_case(lambda d: (d / "official" / "EPIC_noun_classes.csv").unlink()),
         "config", r"official/EPIC_noun_classes\.csv \(missing\)"),
    # LMDB features
    Case("lmdb-missing-folder", lambda tmp: run_args(write_matrix(tmp, {"feature_source": "lmdb", "components": {
        "feature_source": {"lmdb": {"root": str(tmp / "nowhere")}}}})), "config", r"LMDB folder .*nowhere/rgb does not exist"),
    Case("lmdb-no-data-mdb", lmdb_case(lambda p: p.mkdir(parents=True)), "config", r"LMDB folder .*/feats/rgb has no data\.mdb"),
    Case("lmdb-random-bytes", lmdb_case(random_bytes_mdb), "cell", r"(Invalid|not an LMDB|MDB_INVALID)"),
    Case("lmdb-wrong-byte-length", lmdb_case(lambda p: write_lmdb(p, synthetic_keys(), lambda i: 12 if i == 5 else 16)),
         "cell", r"DataError: lmdb features: modality 'rgb': key '.*' .* has 12 bytes \(3 values\), expected 16"),
    Case("lmdb-missing-keys", lmdb_case(lambda p: write_lmdb(p, synthetic_keys()[::2])), "cell",
         r"DataError: feature source lmdb: split 'train', modality 'rgb': [\d,]+ of [\d,]+ frames missing \([\d.]+ %\), e\.g\. \S+, \S+, \S+"),
    Case("lmdb-no-keys", lmdb_case(lambda p: write_lmdb(p, [])), "cell", r"holds no keys"),
    # records and caches the suite wrote, damaged afterwards
    Case("truncated-record", rerun_after(truncate_a_record), "recovered", r""),
    Case("truncated-teacher-cache", rerun_after(truncate_the_teacher_cache, WITH_TEACHER), "recovered", r""),
    Case("truncated-teacher-cache-meta", rerun_after(truncate_the_cache_meta, WITH_TEACHER), "recovered", r""),
    # plugins failing in each hook
    Case("plugin-import-error", lambda tmp: run_args(write_matrix(tmp, {"matrix": {"teacher": "faulty", "loss": "kl"}}),
                                                     "--plugins-dir", plugin(tmp, "bad_import", "import not_a_module\n")),
         "config", r"unknown teacher 'faulty'"),
    Case("plugin-register-hook-raises", lambda tmp: run_args(
        write_matrix(tmp, {"matrix": {"teacher": "faulty", "loss": "kl"}}), "--plugins-dir",
        plugin(tmp, "bad_register", "from benchmark import hookimpl\n\n@hookimpl\ndef bench_register_teachers():\n"
                                    "    raise RuntimeError('registry exploded')\n")), "config", r"unknown teacher 'faulty'"),
    Case("plugin-config-check", faulty_case({"matrix": {"teacher": "faulty", "loss": "kl"},
                                             "components": {"teacher": {"faulty": {"fail": "later"}}}}),
         "config", r"components\.teacher\.faulty: fail: expected 'fit' or 'shape', got 'later'"),
    Case("plugin-config-range", faulty_case({"matrix": {"teacher": "faulty", "loss": "kl"},
                                             "components": {"teacher": {"faulty": {"scale": 0}}}}),
         "config", r"components\.teacher\.faulty\.scale: expected > 0, got 0"),
    Case("plugin-teacher-fit-raises", faulty_case({"matrix": {"teacher": ["none", "faulty"], "loss": ["none", "kl"]}}),
         "cell", r"RuntimeError: faulty teacher: fit exploded"),
    Case("plugin-teacher-wrong-shape", faulty_case({"matrix": {"teacher": ["none", "faulty"], "loss": ["none", "kl"]},
                                                    "components": {"teacher": {"faulty": {"fail": "shape"}}}}),
         "cell", r"teacher 'faulty' returned logits of shape \(\d+, 3\) for split train, expected"),
    Case("plugin-student-build-raises", faulty_case({"matrix": {"student": ["gru", "broken-student"]}}), "cell",
         r"RuntimeError: broken student: cannot build"),
    Case("plugin-metric-raises", faulty_case({"metrics": ["top1_action", "failing-metric"],
                                              "matrix": {"dataset": ["synthetic", "three-val"]},
                                              "components": {"dataset": {"three-val": {
                                                  "use": "synthetic", **DATASET, "val_videos": 3}}}}),
         "cell", r"ZeroDivisionError: failing metric"),
    Case("plugin-before-cell-raises", hook_case("bench_before_cell", "cell, run_dir: "
                                                "assert cell.student != 'gru', 'before-cell hook refuses gru'"),
         "cell", r"AssertionError: before-cell hook refuses gru"),
    Case("plugin-update-record-raises", hook_case("bench_update_record", "cell, record: "
                                                  "assert cell.student != 'gru', 'update hook refuses gru'"),
         "cell", r"bench_update_record hook raised AssertionError: update hook refuses gru"),
    Case("plugin-after-cell-raises", hook_case("bench_after_cell", "cell, record: "
                                               "assert cell.student != 'gru', 'after hook refuses gru'", over={}),
         "recovered", r"bench: warning: bench_after_cell hook raised AssertionError: after hook refuses gru"),
]


def files_of(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input(case: Case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = case.build(tmp_path)
    capsys.readouterr()
    before = files_of(tmp_path)
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert not [p for p in tmp_path.rglob("*.tmp")], "a temporary file was left behind"
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/record.json")]
    if case.outcome == "config":
        errors = [line for line in err.splitlines() if line.startswith("bench: error:")]
        assert code == 2 and len(errors) == 1, err
        assert re.search(case.culprit, errors[0]), errors[0]
        assert files_of(tmp_path) == before, "a failed command wrote files"
    elif case.outcome == "cell":
        assert code == 1, err
        failed = [r for r in records if r["status"] == "failed"]
        assert len(failed) == 1 and len(records) >= 2, [(r["cell"]["label"], r["status"], r["error"]) for r in records]
        assert re.search(case.culprit, failed[0]["error"]), failed[0]["error"]
        assert all(r["status"] == "ok" for r in records if r is not failed[0])
        assert failed[0]["cell"]["label"] in (tmp_path / "leaderboards" / "m.md").read_text()
    else:
        assert code == 0, err
        assert records and all(r["status"] == "ok" for r in records)
        assert re.search(case.culprit, err), err
        for entry in (tmp_path / "runs" / "_cache" / "teachers").glob("[0-9a-f]*"):
            json.loads((entry / "meta.json").read_text())  # rebuilt whole


def test_the_table_is_large_and_listed_in_the_docs():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "faults.md").read_text(encoding="utf-8")
    missing = [c.id for c in CASES if f"`{c.id}`" not in doc]
    assert not missing, f"docs/faults.md does not list {missing}"
