"""A teacher fit gives the same soft labels whichever launcher, and so whichever per-process
thread count, fits it: the runner pins its CPU threads to ``train.teacher_threads``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

from benchmark.matrix import build_matrix
from benchmark.run import Runner
from benchmark.teacher_cache import ARRAYS

# large enough for CPU kernels to split their sums by thread count (small tensors run on one)
MATRIX = {
    "matrix": {"dataset": "synthetic", "teacher": "seq-gru", "student": "gru", "loss": "kl"},
    "train": {"epochs": 1, "batch_size": 256},
    "components": {
        "dataset": {"synthetic": {"num_verbs": 12, "num_nouns": 20, "num_actions": 200, "train_videos": 200,
                                  "val_videos": 10}},
        "teacher": {"seq-gru": {"epochs": 1, "hidden": 256, "embed_dim": 128, "batch_size": 512}},
        "student": {"gru": {"hidden": 16}},
        "feature_source": {"simulated": {"dim": 8}},
    },
}


def soft_labels(plugins, runs: Path, launcher: str = "inline", options: dict | None = None,
                overrides: dict | None = None) -> dict[str, np.ndarray]:
    raw = {**MATRIX, "train": {**MATRIX["train"], **(overrides or {})}}
    runner = Runner(plugins, runs, launcher=launcher, progress=False)
    summary = runner.run(build_matrix(raw, plugins), echo=lambda line: None, launcher_options=options)
    assert [r["status"] for r in summary.executed] == ["ok"], summary.executed
    (entry,) = [p for p in (runs / "_cache" / "teachers").iterdir() if not p.name.startswith("_")]
    return load_file(str(entry / ARRAYS))


def test_inline_on_two_threads_and_a_one_thread_queue_slot_fit_the_same_teacher(plugins, tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the inline launcher on a 2-core machine
    try:
        inline = soft_labels(plugins, tmp_path / "inline")
        on_two = soft_labels(plugins, tmp_path / "two", overrides={"teacher_threads": 2})
    finally:
        torch.set_num_threads(before)
    queued = soft_labels(plugins, tmp_path / "queue", "queue", {"slots": 1, "cpu_threads": 1})
    assert set(inline) == set(queued) == {"train.logits", "train.features", "val.logits", "val.features"}
    for name in inline:
        np.testing.assert_array_equal(inline[name], queued[name], err_msg=name)
    # the pinning is what makes them equal: the same fit on 2 threads gives other soft labels
    assert not np.array_equal(inline["val.logits"], on_two["val.logits"])
