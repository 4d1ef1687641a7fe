"""Text-teacher fine-tuning throughput: dynamic padding with length bucketing against padding every
history to 512 tokens (what the authors did), and soft-label export time.

Run: BENCH_PERF=1 BENCH_DATA_DIR=../shared/data .venv/bin/python -m pytest tests/perf/test_perf_teachers.py \
     --benchmark-enable --benchmark-only
"""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from plugins.datasets.epic55 import EPIC55
from plugins.teachers.text import PRESETS, TextTeacherConfig
from plugins.teachers.text_training import batches, build_model, collate, encode, train_texts

DATA = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent"))
pytestmark = pytest.mark.skipif(not (DATA / "epic55").is_dir(), reason="annotation files not available")
P = {p.name: p for p in PRESETS}
STEPS = 4


@pytest.fixture(scope="module")
def epic():
    return EPIC55().load(DATA)


def _setup(epic, preset, pad_to, markers=True, **cfg):
    teacher = P[preset](TextTeacherConfig(pad_to=pad_to, max_len=512, marker_tokens=markers, batch_size=16, **cfg))
    torch.manual_seed(0)
    state = build_model(teacher, epic, [], torch.device("cpu"), 0, Path("/tmp"))
    ids = encode(state.tok, train_texts(epic)[:16 * STEPS * 4], 512)
    lengths = np.array([len(x) for x in ids])
    plan = batches(lengths, 16, pad_to == 0, np.random.default_rng(0))[:STEPS]
    opt = torch.optim.AdamW(state.model.parameters(), lr=1e-5)
    return state, ids, plan, opt


def _train_steps(state, ids, plan, opt, pad_to):
    tokens = 0
    for idx in plan:
        x, mask = collate([ids[i] for i in idx], state.tok.pad_token_id, pad_to, False)
        out = state.model(x, mask)
        loss = torch.nn.functional.cross_entropy(out["action"], torch.zeros(len(idx), dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tokens += int(x.numel())
    return tokens


@pytest.mark.parametrize("pad_to", [0, 512], ids=["dynamic", "pad512"])
@pytest.mark.parametrize("preset, cfg", [("minilm", {}), ("gpt2", {"init": "scratch", "scratch_hidden": 256,
                                                                     "scratch_layers": 4, "scratch_heads": 4})],
                         ids=["minilm", "gpt2-scratch"])
def test_finetune_throughput(benchmark, epic, preset, cfg, pad_to):
    state, ids, plan, opt = _setup(epic, preset, pad_to, **cfg)
    tokens = benchmark.pedantic(_train_steps, args=(state, ids, plan, opt, pad_to), rounds=1, iterations=1)
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update({"segments_per_s": round(16 * STEPS / mean, 1),
                                 "padded_tokens_per_s": round(tokens / mean),
                                 "mean_real_tokens": float(np.mean([len(ids[i]) for b in plan for i in b]))})


@pytest.mark.parametrize("markers", [True, False], ids=["markers-as-tokens", "markers-split"])
def test_history_length_in_tokens(benchmark, epic, markers):
    teacher = P["minilm"](TextTeacherConfig(marker_tokens=markers))
    from plugins.teachers.text_training import load_tokenizer

    tok = load_tokenizer(teacher, [])
    texts = train_texts(epic)[:2000]
    ids = benchmark(encode, tok, texts, 512)
    benchmark.extra_info["mean_tokens"] = float(np.mean([len(x) for x in ids]))


def test_soft_label_export(benchmark, epic):
    """Soft labels (logits + pooled feature) for the 4,979 val segments, minilm, dynamic padding."""
    from plugins.teachers.text_training import TextTeacherState, predict_text_teacher

    teacher = P["minilm"](TextTeacherConfig(max_len=64))
    state = build_model(teacher, epic, [], torch.device("cpu"), 0, Path("/tmp"))
    state.model.eval()

    class Acc:
        device = torch.device("cpu")

        def autocast(self):
            return torch.autocast("cpu", enabled=False)

    logits, feats = benchmark.pedantic(predict_text_teacher, args=(teacher, TextTeacherState(state.model, state.tok),
                                                                   epic, "val", Acc()), rounds=1, iterations=1)
    benchmark.extra_info["segments_per_s"] = round(len(logits) / benchmark.stats.stats.mean, 1)
