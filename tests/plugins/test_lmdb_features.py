"""The lmdb feature source on tiny LMDBs written in the RULSTM/AVT format."""
from __future__ import annotations

import os
from pathlib import Path

import lmdb
import numpy as np
import pytest

from benchmark.api import AnticipationData, ClassSpace, Sample, Segment
from benchmark.config import build_config
from benchmark.errors import ConfigError, DataError
from benchmark.protocol import frames_of
from plugins.features import lmdb_source
from plugins.features.lmdb_source import LMDBFeatures, frame_key

STEP_S = 0.25  # 7.5 frames: consecutive steps never share a frame


@pytest.fixture(autouse=True)
def _fresh_cache():
    lmdb_source.clear_cache()
    yield
    lmdb_source.clear_cache()


def write_lmdb(path: Path, values: dict[tuple[str, int], np.ndarray]) -> None:
    """One environment in the RULSTM layout: ``{video}_frame_{frame:010d}.jpg`` -> float32 bytes."""
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for (video, frame), vec in values.items():
            txn.put(frame_key(video, frame), np.asarray(vec, dtype="<f4").tobytes())
    env.close()


def vec(video: str, frame: int, dim: int, salt: float = 0.0) -> np.ndarray:
    """A recognisable vector per (video, frame)."""
    base = (hash(video) % 97) * 1000.0 + frame + salt
    return (base + np.arange(dim, dtype=np.float64) / 7.0).astype(np.float32)


def make_data(samples: list[tuple[str, float]], obs_steps: int = 4) -> AnticipationData:
    """A tiny AnticipationData: one sample per (video, obs_end), all in split 'train'."""
    seg = lambda uid, video, start: Segment(uid, video, start, start + 1.0, 0, 0, 0)  # noqa: E731
    out, timelines = [], {}
    for i, (video, obs_end) in enumerate(samples):
        target = seg(f"s{i}", video, obs_end + 1.0)
        timelines.setdefault(video, []).append(target)
        out.append(Sample(f"s{i}", video, target, obs_end, ()))
    classes = ClassSpace(["take cup"], ["take"], ["cup"], np.array([0]), np.array([0]))
    return AnticipationData(
        name="tiny", data_kind="real", classes=classes, splits={"train": out, "val": out[:1]},
        timelines=timelines, obs_steps=obs_steps, obs_step_s=STEP_S, fingerprint="tiny",
    )


def needed(data: AnticipationData, split: str = "train") -> list[tuple[str, int]]:
    return [(s.video, int(f)) for s in data.splits[split] for f in frames_of(data.obs_times(s))]


def source(root: Path, **kw) -> LMDBFeatures:
    return LMDBFeatures(build_config(LMDBFeatures.Config, {"root": str(root), **kw}, "test"))


@pytest.fixture
def tiny(tmp_path):
    data = make_data([("P01_02", 5.0), ("P01_02", 6.1), ("P02_10", 3.3)])
    keys = set(needed(data))
    write_lmdb(tmp_path / "rgb", {k: vec(*k, 16) for k in keys})
    write_lmdb(tmp_path / "obj", {k: vec(*k, 6, salt=0.5) for k in keys})
    return tmp_path, data


def test_key_format():
    assert frame_key("P01_02", 152) == b"P01_02_frame_0000000152.jpg"


def test_round_trip_is_bit_identical(tiny):
    root, data = tiny
    fs = source(root)
    out = fs.load(data, "train")
    assert out.dtype == np.float32 and out.shape == (3, data.obs_steps, 16)
    expected = np.stack([np.stack([vec(s.video, int(f), 16) for f in frames_of(data.obs_times(s))])
                         for s in data.splits["train"]])
    assert out.tobytes() == expected.tobytes()
    assert fs.last_info == {"frames": len(set(needed(data))), "missing": {"rgb": 0},
                            "searched_back": {"rgb": 0}, "layout": {"rgb": [0, 16]}}
    assert fs.load(data, "val").tobytes() == expected[:1].tobytes()


def test_two_modalities_concatenated_in_the_given_order(tiny):
    root, data = tiny
    fs = source(root, modalities=["obj", str(root / "rgb")])  # an absolute path works too
    out = fs.load(data, "train")
    assert out.shape == (3, data.obs_steps, 22)
    assert fs.last_info["layout"] == {"obj": [0, 6], str(root / "rgb"): [6, 22]}
    s = data.splits["train"][2]
    f = int(frames_of(data.obs_times(s))[1])
    np.testing.assert_array_equal(out[2, 1, :6], vec(s.video, f, 6, salt=0.5))
    np.testing.assert_array_equal(out[2, 1, 6:], vec(s.video, f, 16))


def test_missing_key_searched_back_never_forward(tmp_path):
    data = make_data([("V1", 2.0)], obs_steps=2)  # frames 52 and 60
    f0, f1 = (int(f) for f in frames_of(data.obs_times(data.splits["train"][0])))
    write_lmdb(tmp_path / "rgb", {
        ("V1", f0 + 1): vec("V1", f0 + 1, 4),  # only a later frame for f0: must not be used
        ("V1", f1 - 3): vec("V1", f1 - 3, 4),  # 3 frames before f1: found by search
        ("V1", f1 + 1): vec("V1", f1 + 1, 4),
    })
    fs = source(tmp_path, missing="zeros")
    out = fs.load(data, "train")
    np.testing.assert_array_equal(out[0, 0], np.zeros(4, np.float32))
    np.testing.assert_array_equal(out[0, 1], vec("V1", f1 - 3, 4))
    assert fs.last_info["missing"] == {"rgb": 1} and fs.last_info["searched_back"] == {"rgb": 1}


def test_missing_beyond_search_back_zeros_or_error(tmp_path):
    data = make_data([("V1", 2.0)], obs_steps=1)  # frame 60
    write_lmdb(tmp_path / "rgb", {("V1", 57): vec("V1", 57, 4)})
    fs = source(tmp_path, search_back=2, missing="zeros")
    assert not fs.load(data, "train").any()
    assert fs.last_info["missing"] == {"rgb": 1} and fs.last_info["searched_back"] == {"rgb": 0}
    np.testing.assert_array_equal(source(tmp_path, search_back=3).load(data, "train")[0, 0], vec("V1", 57, 4))
    with pytest.raises(DataError, match=r"modality 'rgb': 1 of 1 frames missing \(100 %\), e\.g\. V1_frame_0000000060\.jpg"):
        source(tmp_path, search_back=2).load(data, "train")


def test_wrong_dimension_is_an_error(tmp_path):
    data = make_data([("V1", 2.0)], obs_steps=2)
    f0, f1 = (int(f) for f in frames_of(data.obs_times(data.splits["train"][0])))
    write_lmdb(tmp_path / "rgb", {("V1", f0): vec("V1", f0, 8), ("V1", f1): vec("V1", f1, 6)})
    with pytest.raises(DataError, match=rf"V1_frame_{f1:010d}\.jpg.*24 bytes.*expected 32"):
        source(tmp_path).load(data, "train")


def test_bad_config_values_are_rejected():
    with pytest.raises(ConfigError, match="missing"):
        build_config(LMDBFeatures.Config, {"missing": "skip"}, "test")
    with pytest.raises(ConfigError, match="dtype"):
        build_config(LMDBFeatures.Config, {"dtype": "int8"}, "test")


def test_same_path_from_two_instances(tiny):
    root, data = tiny
    a = source(root).load(data, "train")
    lmdb_source._TABLES.clear()  # force a second read through the shared handle
    b = source(root, search_back=3).load(data, "train")
    c = source(root, modalities=[str((root / "rgb").resolve())]).load(data, "val")
    assert a.tobytes() == b.tobytes() and c.tobytes() == a[:1].tobytes()
    assert len(lmdb_source._ENVS) == 1


def test_cache_dir_round_trip_reads_the_npy(tiny, monkeypatch):
    root, data = tiny
    cache = root / "cache"
    first = source(root, cache_dir=str(cache)).load(data, "train")
    assert len(list(cache.glob("*.npy"))) == 1
    lmdb_source.clear_cache()  # as in a new process

    def no_lmdb(*args, **kwargs):
        raise AssertionError("the LMDB was read again")

    monkeypatch.setattr(LMDBFeatures, "_read_table", no_lmdb)
    fs = source(root, cache_dir=str(cache))
    second = fs.load(data, "train")
    assert second.tobytes() == first.tobytes() and type(second) is np.ndarray
    assert fs.last_info["layout"] == {"rgb": [0, 16]}
    table = next(iter(lmdb_source._TABLES.values()))[0]
    assert isinstance(table, np.memmap)


def test_fingerprint_changes_with_data_mdb(tiny):
    root, data = tiny
    fs = source(root)
    before = fs.fingerprint()
    assert before == source(root).fingerprint() and len(before) == 16
    old = fs.load(data, "train")
    mdb = root / "rgb" / "data.mdb"
    st = mdb.stat()
    # replace the folder (the open handle keeps the old file) with new values
    write_lmdb(root / "rgb.new", {k: vec(*k, 16, salt=1.0) for k in set(needed(data))})
    (root / "rgb").rename(root / "rgb.old")
    (root / "rgb.new").rename(root / "rgb")
    os.utime(mdb, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # also if the clock is coarse
    assert fs.fingerprint() != before
    new = fs.load(data, "train")  # new fingerprint: re-read through a fresh handle
    np.testing.assert_array_equal(new, old + 1.0)


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'flow'}.*'modalities\[0\]'"):
        source(tmp_path, modalities=["flow"]).fingerprint()
    with pytest.raises(ConfigError, match="'root'"):
        LMDBFeatures().fingerprint()


def test_registered(plugins):
    assert plugins.get("feature_source", "lmdb") is LMDBFeatures
