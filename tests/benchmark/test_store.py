import json
import os
from pathlib import Path

import numpy as np
import pytest

from benchmark import atomic
from benchmark.api import TeacherOutput
from benchmark.store import RunStore
from benchmark.teacher_cache import TeacherCache


def test_atomic_write_leaves_old_file_and_no_temp_on_failure(tmp_path: Path, monkeypatch):
    target = tmp_path / "record.json"
    atomic.write_json(target, {"a": 1})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_record_is_the_completion_marker(tmp_path: Path):
    store = RunStore(tmp_path)
    assert store.status("abc") == "pending"
    store.prepare("abc", {"x": 1})
    assert store.status("abc") == "pending"  # config alone does not mean done
    store.write_record("abc", {"status": "ok"})
    assert store.status("abc") == "ok"
    (tmp_path / "abc" / "record.json").write_text("{truncated")
    assert store.status("abc") == "pending"  # an unreadable record is redone
    store.prepare("abc", {"x": 1})
    assert not (tmp_path / "abc" / "record.json").exists()


def test_teacher_cache_computes_once_and_survives_deletion(tmp_path: Path):
    cache = TeacherCache(tmp_path / "cache")
    calls = []

    def compute():
        calls.append(1)
        return {"train": TeacherOutput(np.ones((3, 4), np.float32), np.zeros((3, 2), np.float32)),
                "val": TeacherOutput(np.full((2, 4), 2.0, np.float32))}

    content = {"teacher": "t", "config": {"a": 1}, "dataset_fingerprint": "f"}
    out1, cached1, key = cache.get_or_compute(content, compute)
    out2, cached2, key2 = cache.get_or_compute(content, compute)
    assert (cached1, cached2, len(calls), key) == (False, True, 1, key2)
    np.testing.assert_array_equal(out2["train"].logits, out1["train"].logits)
    assert out2["val"].features is None and out2["train"].features.shape == (3, 2)
    assert not list((tmp_path / "cache").glob(".*tmp"))  # no temp folders left
    _, _, other = cache.get_or_compute({**content, "config": {"a": 2}}, compute)
    assert other != key and len(calls) == 2
    import shutil

    shutil.rmtree(tmp_path / "cache" / key)
    _, cached3, _ = cache.get_or_compute(content, compute)
    assert not cached3 and len(calls) == 3


def test_teacher_cache_entry_missing_a_file_is_recomputed(tmp_path: Path):
    cache = TeacherCache(tmp_path)
    compute = lambda: {"train": TeacherOutput(np.ones((1, 2), np.float32))}  # noqa: E731
    _, _, key = cache.get_or_compute({"k": 1}, compute)
    (tmp_path / key / "outputs.safetensors").unlink()
    assert cache.load(key) is None
    _, cached, _ = cache.get_or_compute({"k": 1}, compute)
    assert not cached and cache.load(key) is not None  # the damaged entry was rewritten


def test_teacher_cache_fits_once_when_two_cells_need_it_at_the_same_time(tmp_path: Path):
    import threading
    import time

    cache = TeacherCache(tmp_path)
    calls, waits, started = [], [], threading.Event()

    def compute():
        calls.append(1)
        started.set()
        time.sleep(0.5)  # a teacher being fitted
        return {"train": TeacherOutput(np.full((2, 3), 7.0, np.float32))}

    results = {}

    def cell(name):
        results[name] = cache.get_or_compute({"k": "same"}, compute, on_wait=waits.append, poll_s=0.05)

    first = threading.Thread(target=cell, args=("a",))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=cell, args=("b",))
    second.start()
    first.join()
    second.join()
    assert len(calls) == 1 and len(waits) == 1 and "pid" in waits[0]
    assert (results["a"][1], results["b"][1]) == (False, True)
    np.testing.assert_array_equal(results["b"][0]["train"].logits, results["a"][0]["train"].logits)
    assert not list((tmp_path / "_locks").glob("*.lock"))  # released


def test_teacher_cache_lock_of_a_dead_holder_is_taken_over(tmp_path: Path):
    cache = TeacherCache(tmp_path)
    key = cache.key({"k": 1})
    lock = cache.lock_path(key)
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename,
                                "started_at": "2026-01-01T00:00:00+00:00", "token": "dead"}))
    out, cached, _ = cache.get_or_compute({"k": 1}, lambda: {"train": TeacherOutput(np.ones((1, 2), np.float32))})
    assert not cached and out["train"].logits.shape == (1, 2) and not lock.exists()
