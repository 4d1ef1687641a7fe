"""The coverage policy end to end: a cell reading an LMDB with a known share of its keys
removed runs below the threshold (the count in its record and its leaderboard row) and fails
above it, naming the split, the modality, the count, the share and example keys."""
from __future__ import annotations

from pathlib import Path

import lmdb
import numpy as np
import pytest

from benchmark import report as leaderboard
from benchmark.coverage import ZERO_FILLED_NOTE, Coverage, CoverageConfig, enforce, zero_filled_frames
from benchmark.errors import DataError
from benchmark.matrix import build_matrix
from benchmark.run import Runner
from plugins.features import lmdb_source

DIM = 4
DATASET = {"train_videos": 6, "val_videos": 2, "segments_per_video": 12}


@pytest.fixture(autouse=True)
def _fresh_cache():
    lmdb_source.clear_cache()
    yield
    lmdb_source.clear_cache()


def needed_keys(plugins, split: str) -> list[bytes]:
    cls = plugins.get("dataset", "synthetic")
    from benchmark.config import build_config

    data = cls(build_config(cls.Config, DATASET, "test")).load(None)
    keys = {lmdb_source.frame_key(s.video, int(f)) for s in data.splits[split] for f in data.obs_frames(s)}
    return sorted(keys)


def write_lmdb(path: Path, keys: list[bytes]) -> None:
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, key in enumerate(keys):
            txn.put(key, np.full(DIM, i % 7 + 1, dtype="<f4").tobytes())
    env.close()


def run_cell(plugins, tmp_path: Path, root: Path) -> dict:
    matrix = build_matrix({
        "matrix": {"dataset": "synthetic", "student": "gru"},
        "feature_source": "lmdb",
        "train": {"epochs": 1},
        "metrics": ["top1_action"],
        "components": {"dataset": {"synthetic": DATASET}, "student": {"gru": {"hidden": 8}},
                       "feature_source": {"lmdb": {"root": str(root), "search_back": 0, "max_missing": 0.02}}},
    }, plugins)
    summary = Runner(plugins, tmp_path / "runs", progress=False).run(matrix, echo=lambda line: None)
    (record,) = summary.executed
    return record


def test_below_the_threshold_runs_and_says_how_many_frames_were_zero_filled(plugins, tmp_path):
    train, val = needed_keys(plugins, "train"), needed_keys(plugins, "val")
    removed = train[::100]  # 1 % of the training keys, under max_missing = 2 %
    write_lmdb(tmp_path / "feats" / "rgb", [k for k in sorted(set(train) | set(val)) if k not in set(removed)])
    record = run_cell(plugins, tmp_path, tmp_path / "feats")
    assert record["status"] == "ok", record["error"]
    assert record["zero_filled_frames"] == len(removed) == zero_filled_frames(record["feature_info"])
    assert record["feature_info"]["train"]["missing"] == {"rgb": len(removed)}
    assert record["feature_info"]["val"]["missing"] == {"rgb": 0}
    md = leaderboard.render_markdown(leaderboard.build([record], [], "top1_action"), "T", "bench run")
    row = next(line for line in md.splitlines() if line.startswith("| this suite"))
    assert f"| {len(removed)} frames zero-filled |" in row and ZERO_FILLED_NOTE in md


def test_above_the_threshold_the_cell_fails_before_training_with_example_keys(plugins, tmp_path):
    train, val = needed_keys(plugins, "train"), needed_keys(plugins, "val")
    removed = train[::20]  # 5 %: over max_missing = 2 %
    write_lmdb(tmp_path / "feats" / "rgb", [k for k in sorted(set(train) | set(val)) if k not in set(removed)])
    record = run_cell(plugins, tmp_path, tmp_path / "feats")
    share = 100 * len(removed) / len(train)
    assert record["status"] == "failed" and "epoch_losses" not in record  # nothing trained
    examples = ", ".join(k.decode() for k in removed[:3])
    assert record["error"] == (
        f"DataError: feature source lmdb: split 'train', modality 'rgb': {len(removed):,} of {len(train):,} "
        f"frames missing ({share:.3g} %), e.g. {examples}; more than max_missing = 2 %; check the source's "
        "paths, or opt in to zero-filling with missing: zeros")


def test_zero_filling_is_an_explicit_opt_in_with_its_own_threshold():
    cov = Coverage("flow", "val", 1000)
    for i in range(30):
        cov.note_missing(f"k{i}")
    assert cov.examples == ["k0", "k1", "k2"] and cov.fraction == 0.03
    with pytest.raises(DataError, match=r"split 'val', modality 'flow': 30 of 1,000 frames missing \(3 %\), e.g. k0, k1, k2"):
        enforce("lmdb", cov, CoverageConfig())
    enforce("lmdb", cov, CoverageConfig(missing="zeros"))  # any share, by default
    enforce("lmdb", cov, CoverageConfig(max_missing=0.03))
    with pytest.raises(DataError, match="more than max_zero_filled = 2 %$"):
        enforce("lmdb", cov, CoverageConfig(missing="zeros", max_zero_filled=0.02))
