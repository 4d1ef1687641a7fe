"""`bench data doctor` on a clean and on a broken data folder: real EPIC-55 annotations, an
LMDB in the RULSTM format written by the test, exit codes 0 / 1 / 2, one line per check."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import lmdb
import numpy as np
import pytest
import yaml

from benchmark.cli import main
from benchmark.config import build_config
from plugins.features import lmdb_source

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (SHARED / "epic55").is_dir(), reason="annotation files not available")


@pytest.fixture(autouse=True)
def _fresh_cache():
    lmdb_source.clear_cache()
    yield
    lmdb_source.clear_cache()


@pytest.fixture(scope="module")
def keys(plugins_module) -> dict[str, list[bytes]]:
    cls = plugins_module.get("dataset", "epic55")
    data = cls(build_config(cls.Config, {}, "test")).load(SHARED)
    return {split: sorted({lmdb_source.frame_key(s.video, int(f)) for s in data.splits[split]
                           for f in data.obs_frames(s)}) for split in ("train", "val")}


@pytest.fixture(scope="module")
def plugins_module():
    from benchmark.plugin_manager import get_plugins

    return get_plugins()


def write_lmdb(path: Path, keys: list[bytes], value=lambda i: np.full(4, 1.0 + i % 5, dtype="<f4")) -> None:
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=1 << 28)
    with env.begin(write=True) as txn:
        for i, key in enumerate(keys):
            txn.put(key, np.asarray(value(i), dtype="<f4").tobytes())
    env.close()


def setup(tmp_path: Path, keys: list[bytes], modalities=("rgb",), **lmdb_values) -> tuple[Path, Path]:
    data = tmp_path / "data"
    shutil.copytree(SHARED / "epic55", data / "epic55")
    write_lmdb(tmp_path / "feats" / "rgb", keys, **lmdb_values)
    matrix = tmp_path / "m.yaml"
    matrix.write_text(yaml.safe_dump({
        "matrix": {"dataset": "epic55", "teacher": ["none", "ngram"], "student": "rulstm", "loss": ["none", "kl"]},
        "feature_source": "lmdb",
        "metrics": ["top1_action", "top5_action", "many_shot_mt5r_action"],
        "components": {"feature_source": {"lmdb": {"root": str(tmp_path / "feats"), "search_back": 0}},
                       "student": {"rulstm": {"modalities": list(modalities)}}},
    }))
    return data, matrix


def doctor(capsys, data: Path, matrix: Path, *extra: str) -> tuple[int, str]:
    extra = extra if "--runs-dir" in extra else (*extra, "--runs-dir", str(matrix.parent / "runs"))  # not ./runs
    code = main(["data", "doctor", "--matrix", str(matrix), "--data-dir", str(data), "--sample", "64", *extra])
    return code, capsys.readouterr().out


def lines(out: str, level: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(level)]


def test_clean_folder_exits_0(tmp_path, capsys, keys):
    data, matrix = setup(tmp_path, sorted(set(keys["train"]) | set(keys["val"])))
    code, out = doctor(capsys, data, matrix)
    assert code == 0, out
    assert not lines(out, "warning") and not lines(out, "error")
    assert "annotations   epic55: 23 files match their sha256" in out
    assert f"features      epic55/lmdb val: modality 'rgb': {len(keys['val']):,} of {len(keys['val']):,} frames found" in out
    assert "64 sampled vectors of 4 float32 values are finite and non-zero" in out
    assert "class-lists   epic55/many_shot_mt5r_action: " in out and "teacher-cache epic55/ngram: not fitted yet" in out


def test_a_few_missing_keys_and_zero_vectors_are_warnings_exit_1(tmp_path, capsys, keys):
    every = sorted(set(keys["train"]) | set(keys["val"]))
    gone = keys["val"][:3]  # far below 0.1 % of the validation keys
    data, matrix = setup(tmp_path, [k for k in every if k not in set(gone)],
                         value=lambda i: np.zeros(4) if i % 2 else np.ones(4))
    code, out = doctor(capsys, data, matrix)
    assert code == 1, out
    warn = lines(out, "warning")
    assert any(f"epic55/lmdb val: modality 'rgb': 3 of {len(keys['val']):,} frames missing" in w
               and ", ".join(k.decode() for k in gone) in w for w in warn), warn
    assert any("sampled vectors are all zero" in w for w in warn) and not lines(out, "error")


def test_broken_folder_exits_2_naming_every_fault(tmp_path, capsys, keys):
    # the LMDB holds the training keys only (as hoi-forecast #16), with a NaN vector; an
    # annotation file is damaged; the student asks for a modality the features do not have
    data, matrix = setup(tmp_path, keys["train"], modalities=("rgb", "obj"),
                         value=lambda i: np.full(4, np.nan) if i == 0 else np.ones(4))
    damaged = data / "epic55" / "official" / "EPIC_many_shot_verbs.csv"
    damaged.write_text(damaged.read_text() + "\n")
    code, out = doctor(capsys, data, matrix, "--json")
    assert code == 2
    report = json.loads(out)
    errors = {c["check"]: c["message"] for c in report["checks"] if c["level"] == "error"}
    assert report["exit_code"] == 2 and set(errors) == {"annotations", "features", "student-input"}
    assert "official/EPIC_many_shot_verbs.csv (bad checksum)" in errors["annotations"]
    messages = [c["message"] for c in report["checks"] if c["check"] == "features" and c["level"] == "error"]
    assert any(f"{len(keys['val']):,} of {len(keys['val']):,} frames missing (100 %), e.g. "
               f"{keys['val'][0].decode()}" in m for m in messages), messages
    assert any("1 of 64 sampled vectors hold NaN or Inf" in m for m in messages)
    assert "branches ['obj'] are not in the feature layout ['rgb']" in errors["student-input"]


def test_bench_run_stops_on_a_failing_cheap_check_before_any_cell(tmp_path, capsys, keys, monkeypatch):
    data, matrix = setup(tmp_path, keys["train"])
    (data / "epic55" / "rulstm" / "validation.csv").write_text("")
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--matrix", str(matrix), "--data-dir", str(data), "--no-download", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert any(line.startswith("bench: error: annotations epic55: 1 of 23 files missing or failing their sha256")
               for line in err.splitlines()), err
    assert not list((tmp_path / "runs").glob("*/record.json")) and not (tmp_path / "leaderboards").exists()
