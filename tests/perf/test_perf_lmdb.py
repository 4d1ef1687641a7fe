"""Speed of the lmdb feature source on an LMDB laid out like RULSTM's rgb file (not asserted).

Run: BENCH_PERF=1 .venv/bin/python -m pytest tests/perf/test_perf_lmdb.py --benchmark-enable --benchmark-only

(a) ``LMDBFeatures.load``: unique keys read once, in key order, in one transaction, then one
    fancy index (target: >= 50,000 frames/s on 2 cores).
(b) the reference approach of RULSTM-style data loaders: every item of a (shuffled) training
    pass reads its T frames with a fresh transaction and ``txn.get`` per frame.
Both are measured with the file in the page cache (it was just written) and, where the platform
has ``posix_fadvise``, with the file evicted from the page cache before every round (``_cold``).
"""
from __future__ import annotations

import os
import time

import lmdb
import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment
from benchmark.protocol import frames_of
from plugins.features import lmdb_source
from plugins.features.lmdb_source import LMDBFeatures, frame_key

VIDEOS = 50
FRAMES = 7200  # 4 minutes on the 30 fps clock
EVERY = 6  # one feature every 6 frames (0.2 s)
DIM = 1024
STEPS = 14  # RULSTM: 14 observed steps
STEP_S = EVERY / 30.0
SAMPLES = 7500
BATCH = 64


def video(v: int) -> str:
    return f"P{v // 10 + 1:02d}_{v % 10 + 1:02d}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The LMDB (60k keys, ~470 MB: a 4 KiB value takes two LMDB pages) and samples needing
    ~50k unique frames."""
    root = tmp_path_factory.mktemp("lmdb_perf")
    rng = np.random.default_rng(0)
    base = rng.standard_normal((97, DIM)).astype("<f4")
    env = lmdb.open(str(root / "rgb"), map_size=1 << 30)
    tic = time.perf_counter()
    with env.begin(write=True) as txn:
        for v in range(VIDEOS):
            for i, frame in enumerate(range(EVERY, FRAMES + 1, EVERY)):
                txn.put(frame_key(video(v), frame), (base[(v * 31 + i) % 97] + np.float32(frame)).tobytes())
    env.close()
    build_s = time.perf_counter() - tic

    samples, timelines = [], {}
    for k in range(SAMPLES):
        v = video(int(rng.integers(VIDEOS)))
        grid = int(rng.integers(STEPS, FRAMES // EVERY - 10))
        obs_end = grid * EVERY / 30.0
        target = Segment(f"s{k}", v, obs_end + 1.0, obs_end + 3.0, 0, 0, 0)
        timelines.setdefault(v, []).append(target)
        samples.append(Sample(f"s{k}", v, target, obs_end, ()))
    classes = ClassSpace(["a"], ["v"], ["n"], np.array([0]), np.array([0]))
    data = AnticipationData(name="perf", data_kind="real", classes=classes, splits={"train": samples},
                            timelines=timelines, obs_steps=STEPS, obs_step_s=STEP_S, fingerprint="perf")
    fs = LMDBFeatures(LMDBFeatures.Config(root=str(root), modalities=["rgb"]))
    mdb_mb = (root / "rgb" / "data.mdb").stat().st_size / 2**20
    return fs, data, root, {"lmdb_keys": VIDEOS * (FRAMES // EVERY), "lmdb_mb": round(mdb_mb, 1),
                            "build_s": round(build_s, 2)}


def evict(root) -> None:
    """Close every handle and drop data.mdb from the page cache."""
    lmdb_source.clear_cache()
    fd = os.open(root / "rgb" / "data.mdb", os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


cold = pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="needs posix_fadvise")


@pytest.mark.parametrize("page_cache", ["warm", pytest.param("cold", marks=cold)])
def test_lmdb_preload(benchmark, setup, page_cache):
    """(a) ``LMDBFeatures.load`` with an empty process cache every round."""
    fs, data, root, extra = setup
    if page_cache == "warm":
        out = benchmark.pedantic(fs.load, args=(data, "train"), setup=lmdb_source._TABLES.clear,
                                 rounds=5, iterations=1, warmup_rounds=1)
    else:
        out = benchmark.pedantic(fs.load, args=(data, "train"), setup=lambda: evict(root), rounds=2,
                                 iterations=1)
    info = fs.last_info
    assert out.shape == (SAMPLES, STEPS, DIM) and info["missing"] == {"rgb": 0}
    frames = info["frames"]
    benchmark.extra_info.update(extra)
    benchmark.extra_info.update({
        "unique_frames": frames, "frame_refs": SAMPLES * STEPS,
        "frames_per_s": round(frames / benchmark.stats.stats.mean),
        "frames_per_s_best": round(frames / benchmark.stats.stats.min),
    })
    rate = frames / benchmark.stats.stats.mean
    print(f"\npreload ({page_cache}): {frames} unique frames, {rate:,.0f} frames/s (mean), {extra}")


def test_lmdb_preload_cached(benchmark, setup):
    """``load`` again in the same process (another cell): the preloaded table is reused."""
    fs, data, _, _ = setup
    fs.load(data, "train")
    benchmark.pedantic(fs.load, args=(data, "train"), rounds=5, iterations=1)


def test_lmdb_read_table(benchmark, setup):
    """The read phase of (a) alone: unique keys, in key order, one transaction."""
    fs, data, _, _ = setup
    keys, _ = fs._unique_keys(data, "train")
    benchmark.pedantic(fs._read_table, args=("perf", "perf", keys), rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["frames_per_s"] = round(len(keys) / benchmark.stats.stats.mean)
    print(f"\nread phase: {len(keys) / benchmark.stats.stats.mean:,.0f} frames/s")


@pytest.mark.parametrize("page_cache", ["warm", pytest.param("cold", marks=cold)])
def test_reference_per_item_reads(benchmark, setup, page_cache):
    """(b) one shuffled pass, each item reading its T frames with a fresh txn per frame."""
    fs, data, root, _ = setup
    path = (root / "rgb").resolve()
    items = [[frame_key(s.video, int(f)) for f in frames_of(data.obs_times(s))] for s in data.splits["train"]]

    def one_pass() -> int:
        env = lmdb_source._open_env(path)  # the process-wide handle
        order = np.random.default_rng(1).permutation(len(items))
        batch, batches = [], 0
        for i in order:
            feats = []
            for key in items[i]:
                with env.begin() as txn:
                    feats.append(np.frombuffer(txn.get(key), dtype=np.float32))
            batch.append(np.stack(feats))
            if len(batch) == BATCH:
                np.stack(batch)
                batch, batches = [], batches + 1
        return batches

    if page_cache == "warm":
        benchmark.pedantic(one_pass, rounds=3, iterations=1, warmup_rounds=1)
    else:
        benchmark.pedantic(one_pass, setup=lambda: evict(root), rounds=2, iterations=1)
    refs = SAMPLES * STEPS
    benchmark.extra_info.update({
        "frame_refs": refs, "frames_per_s": round(refs / benchmark.stats.stats.mean),
        "samples_per_s": round(SAMPLES / benchmark.stats.stats.mean),
    })
    print(f"\nreference ({page_cache}): {refs / benchmark.stats.stats.mean:,.0f} frame reads/s, "
          f"{SAMPLES / benchmark.stats.stats.mean:,.0f} samples/s")
