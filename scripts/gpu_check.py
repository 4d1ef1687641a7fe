"""A short device check: the smoke matrix end to end and training throughput figures, in bf16
on a CUDA device (or on the CPU, where it runs the same steps so that the script stays tested).

    python scripts/gpu_check.py --out gpu_check.json            # on a CUDA machine: < 5 minutes
    python scripts/gpu_check.py --quick --device cpu --out x.json   # what the test suite runs

Everything measured goes into one JSON file (and a Markdown summary next to it): the device,
library versions, the smoke matrix's wall time and metrics, student training samples/s
(gru, avt, rulstm on 1024-d features, 10 steps, batch 128), and text-teacher fine-tuning
segments/s (all-MiniLM-L6-v2, shipped on PyPI: no hub needed) with dynamic padding against
padding every history to 512 tokens.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _device(name: str):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda but torch sees no CUDA device")
    return torch.device(name)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _autocast(device, bf16: bool):
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def smoke_matrix(device, bf16: bool, quick: bool, workdir: Path) -> dict:
    """`bench run --matrix smoke` in a subprocess, bf16 through Accelerate on CUDA."""
    cmd = [sys.executable, "-m", "benchmark.cli", "run", "--matrix", "smoke", "--no-progress",
           "--runs-dir", str(workdir / "runs"), "--leaderboard-dir", str(workdir / "lb"),
           "--set", f"train.mixed_precision={'bf16' if bf16 else 'no'}",
           "--set", f"train.cpu={'true' if device.type == 'cpu' else 'false'}"]
    if quick:
        cmd += ["--set", "train.epochs=1", "--set", "matrix.seed=[0]"]
    tic = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "BENCH_LOAD_PLUGINS": ""})
    wall = time.perf_counter() - tic
    records = [json.loads(p.read_text()) for p in (workdir / "runs").glob("*/record.json")]
    return {"command": " ".join(cmd[2:]), "exit_code": res.returncode, "wall_s": round(wall, 1),
            "cells": len(records), "ok": sum(r["status"] == "ok" for r in records),
            "devices": sorted({r.get("env", {}).get("device", "?") for r in records}),
            "top1_action": {r["cell"]["label"]: r["metrics"].get("top1_action") for r in records},
            "stderr_tail": res.stderr.strip().splitlines()[-3:]}


def student_throughput(device, bf16: bool, steps: int) -> dict:
    import torch

    from benchmark.config import build_config
    from benchmark.plugin_manager import get_plugins

    plugins = get_plugins()
    out = {}
    batch, T, D, C = 128, 10, 1024, 2513
    for name in ("gru", "avt", "rulstm"):
        cls = plugins.get("student", name)
        student = cls(build_config(cls.Config, {}, name))
        student.anticipation_index = T - 1
        student.input_info = {"layout": {"rgb": [0, D]}}
        student.feature_layout = student.input_info["layout"]
        torch.manual_seed(0)
        model = student.build(D, C).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        x = torch.randn(batch, T, D, device=device)
        y = torch.randint(0, C, (batch,), device=device)

        def step():
            with _autocast(device, bf16):
                loss = student.own_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        step()
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        tic = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        secs = time.perf_counter() - tic
        out[name] = {"samples_per_s": round(batch * steps / secs, 1), "steps": steps, "batch": batch,
                     "parameters": sum(p.numel() for p in model.parameters())}
        if device.type == "cuda":
            out[name]["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def teacher_throughput(device, bf16: bool, steps: int) -> dict:
    """MiniLM fine-tuning steps on verbalised histories of random actions."""
    import numpy as np
    import torch

    from plugins.teachers.text import PRESETS, TextTeacherConfig
    from plugins.teachers.text_training import TextClassifier, collate, encode, load_tokenizer

    preset = {p.name: p for p in PRESETS}["minilm"]
    out = {}
    rng = np.random.default_rng(0)
    verbs, nouns = ["take", "put", "open", "close", "wash", "cut"], ["knife", "plate", "tap", "cup", "onion"]
    texts = [" <a> ".join(f"<v> {rng.choice(verbs)} {rng.choice(nouns)}" for _ in range(5)) for _ in range(64)]
    for pad_to in (0, 512):
        teacher = preset(TextTeacherConfig(pad_to=pad_to, max_len=512))
        tok = load_tokenizer(teacher, [])
        from transformers import AutoModel

        from plugins.teachers.text_training import hidden_size, resolve_checkpoint

        torch.manual_seed(0)
        backbone = AutoModel.from_pretrained(resolve_checkpoint(teacher))
        backbone.resize_token_embeddings(len(tok))
        model = TextClassifier(backbone, hidden_size(backbone.config), 2513, 125, 352, last_token=False).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
        ids = encode(tok, texts, 512)
        batch = [ids[i % len(ids)] for i in range(16)]
        x, mask = collate(batch, tok.pad_token_id, pad_to, False)
        x, mask = x.to(device), mask.to(device)
        y = torch.zeros(16, dtype=torch.long, device=device)

        def step():
            with _autocast(device, bf16):
                loss = torch.nn.functional.cross_entropy(model(x, mask)["action"].float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        step()
        _sync(device)
        tic = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        secs = time.perf_counter() - tic
        out["dynamic" if pad_to == 0 else "pad512"] = {"segments_per_s": round(16 * steps / secs, 1),
                                                        "tokens_per_batch": int(x.shape[1])}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--no-bf16", action="store_true", help="full precision")
    p.add_argument("--quick", action="store_true", help="few steps and a one-epoch smoke run (for tests)")
    args = p.parse_args(argv)
    import torch

    device = _device(args.device)
    bf16 = not args.no_bf16
    steps = 3 if args.quick else 50
    started = time.perf_counter()
    result: dict = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "cuda": torch.version.cuda, "bf16": bf16,
                    "cpu_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        result["smoke_matrix"] = smoke_matrix(device, bf16, args.quick, Path(tmp))
    result["students"] = student_throughput(device, bf16, steps)
    result["teacher_finetune"] = teacher_throughput(device, bf16, max(2, steps // 5))
    result["total_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_out, args.out)
    lines = [f"# Device check: {result['device']} (bf16: {bf16}, torch {result['torch']})", "",
             f"smoke matrix: {result['smoke_matrix']['ok']}/{result['smoke_matrix']['cells']} cells ok in "
             f"{result['smoke_matrix']['wall_s']} s", ""]
    lines += [f"- student {k}: {v['samples_per_s']} samples/s" for k, v in result["students"].items()]
    lines += [f"- teacher fine-tuning {k}: {v['segments_per_s']} segments/s" for k, v in result["teacher_finetune"].items()]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if result["smoke_matrix"]["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
