"""A short device check: the smoke matrix end to end and training throughput figures on a CUDA
device (or on the CPU, where it runs the same steps so that the script stays tested).

    python scripts/gpu_check.py --out gpu_check.json            # on a CUDA machine: < 5 minutes
    python scripts/gpu_check.py --quick --device cpu --compile-backend aot_eager --out x.json   # the test's

Everything measured goes into one JSON file (and a Markdown summary next to it): the device,
library versions, the smoke matrix's wall time and metrics (bf16 unless ``--no-bf16``), the
input pipeline alone (device-resident batches against a pinned DataLoader), training samples/s
of the published student presets (AVT-h EPIC-55 and EGTEA heads, RULSTM's sizes) in fp32, bf16
and bf16 compiled, each with its first step (the compilation), peak device memory and the
fraction of time the GPU ran a kernel (profiler), plus bf16 from the DataLoader path, and
text-teacher fine-tuning segments/s (all-MiniLM-L6-v2, shipped on PyPI: no hub needed) with
dynamic padding against padding every history to 512 tokens.
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


#: the student presets measured: published sizes; shapes of the features they are trained on
PRESETS = {
    "avt-epic55": {"dim": 2048, "steps": 10, "classes": 2513, "config": {}, "quick": {"layers": 1, "width": 128}},
    "avt-egtea": {"dim": 1024, "steps": 10, "classes": 106, "config": {}, "quick": {"layers": 1, "width": 128}},
    "rulstm-paper": {"dim": 1024, "steps": 14, "classes": 2513, "config": {"stages": "joint"},
                     "quick": {"hidden": 64}},
}


def _preset(name: str, quick: bool):
    from benchmark.config import build_config
    from benchmark.plugin_manager import get_plugins

    spec = PRESETS[name]
    cls = get_plugins().get("student", name)
    student = cls(build_config(cls.Config, {**spec["config"], **(spec["quick"] if quick else {})}, name))
    student.anticipation_index = spec["steps"] - 1
    student.input_info = {"layout": {"rgb": [0, spec["dim"]]}}
    student.feature_layout = student.input_info["layout"]
    return student, spec, int(cls.train_defaults.get("batch_size", 64))


def _busy_fraction(device, step, steps: int) -> float | None:
    """Share of the wall time of ``steps`` steps during which a CUDA kernel ran (profiler)."""
    if device.type != "cuda":
        return None
    import torch
    from torch.profiler import ProfilerActivity, profile

    _sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        tic = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        wall = time.perf_counter() - tic
    events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    busy_us = sum(e.time_range.elapsed_us() for e in events)
    return round(min(busy_us / 1e6 / wall, 1.0), 3)


def student_throughput(device, bf16: bool, compiled: bool, steps: int, quick: bool, pipeline: str = "device",
                       backend: str = "inductor") -> dict:
    """Training steps of each preset through the suite's input path (batches cut from
    device-resident tensors) or the DataLoader path it replaced: samples/s over ``steps``
    steps after a first one (which compiles when ``compiled``), that first step's time, peak
    device memory and the busy fraction of the GPU."""
    out = {}
    for name in PRESETS:
        try:
            out[name] = _train_preset(device, name, bf16, compiled, steps, quick, pipeline, backend)
        except RuntimeError as exc:  # e.g. no bf16 LSTM kernel on this CPU: recorded, the others go on
            out[name] = {"error": str(exc).splitlines()[0][:300]}
    return out


def _train_preset(device, name: str, bf16: bool, compiled: bool, steps: int, quick: bool, pipeline: str,
                  backend: str) -> dict:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from benchmark.run.batches import DeviceBatches
    from benchmark.run.optim import make_optimizer

    student, spec, batch = _preset(name, quick)
    T, D, C = spec["steps"], spec["dim"], spec["classes"]
    if quick:  # the test's run on a CPU, where bf16 is emulated: small inputs and few classes
        D, C = 64, 50
        student.input_info = {"layout": {"rgb": [0, D]}}
        student.feature_layout = student.input_info["layout"]
    torch.manual_seed(0)
    model = student.build(D, C).to(device)
    if compiled:
        model.compile(backend=backend, dynamic=False)
    opt = make_optimizer(list(model.parameters()), {"optimizer": "adamw", "weight_decay": 0.0}, 1e-4)
    n = batch * (2 * steps + 2)
    tensors = (torch.randn(n, T, D), torch.randint(0, C, (n,)), torch.randint(0, C, (n, T)))
    if pipeline == "device":
        source = DeviceBatches(tensors, batch, torch.Generator().manual_seed(0), device, drop_last=True)
    else:
        source = DataLoader(TensorDataset(*tensors), batch_size=batch, shuffle=True, drop_last=True,
                            pin_memory=device.type == "cuda")
    batches = iter(source)

    def step():
        x, y, s = (t.to(device, non_blocking=True) for t in next(batches))
        with _autocast(device, bf16):
            value = student.own_loss(model(x), y, s) if student.needs_step_labels else student.own_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tic = time.perf_counter()
    step()
    _sync(device)
    first = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    secs = time.perf_counter() - tic
    out = {"samples_per_s": round(batch * steps / secs, 1), "first_step_s": round(first, 3),
           "steps": steps, "batch": batch, "parameters": sum(p.numel() for p in model.parameters()),
           "gpu_busy_fraction": _busy_fraction(device, step, steps)}
    if device.type == "cuda":
        out["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def input_pipeline(device, quick: bool) -> dict:
    """Training batches delivered per second with no model: device-resident batches against a
    pinned DataLoader copied batch by batch (8,192 x 10 x 1,024 float32, batch 128)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from benchmark.run.batches import DeviceBatches

    n = 1024 if quick else 8192
    tensors = (torch.randn(n, 10, 1024), torch.randint(0, 2513, (n,)))
    pipelines = {
        "device-batches": DeviceBatches(tensors, 128, torch.Generator().manual_seed(0), device),
        "dataloader": DataLoader(TensorDataset(*tensors), batch_size=128, shuffle=True,
                                 pin_memory=device.type == "cuda"),
    }
    out = {}
    for name, source in pipelines.items():
        best = float("inf")
        for _ in range(3):
            _sync(device)
            tic = time.perf_counter()
            for x, y in source:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            _sync(device)
            best = min(best, time.perf_counter() - tic)
        out[name] = {"samples_per_s": round(n / best, 1), "epoch_s": round(best, 4), "samples": n}
    return out


def teacher_throughput(device, bf16: bool, steps: int, size: int = 16) -> dict:
    """MiniLM fine-tuning steps of ``size`` verbalised histories of random actions (2 in the quick run)."""
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
        batch = [ids[i % len(ids)] for i in range(size)]
        x, mask = collate(batch, tok.pad_token_id, pad_to, False)
        x, mask = x.to(device), mask.to(device)
        y = torch.zeros(size, dtype=torch.long, device=device)

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
        out["dynamic" if pad_to == 0 else "pad512"] = {"segments_per_s": round(size * steps / secs, 1),
                                                        "tokens_per_batch": int(x.shape[1])}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--no-bf16", action="store_true", help="full precision")
    p.add_argument("--quick", action="store_true",
                   help="few steps, reduced student sizes and a one-epoch smoke run (for tests)")
    p.add_argument("--no-compile", action="store_true", help="leave out the torch.compile variant")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend of that variant")
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
    result["input_pipeline"] = input_pipeline(device, args.quick)
    variants = [("fp32", False, False), ("bf16", True, False)] + ([] if args.no_compile else [("bf16-compiled", True, True)])
    result["students"] = {label: student_throughput(device, use_bf16, compiled, steps, args.quick,
                                                    backend=args.compile_backend)
                          for label, use_bf16, compiled in variants}
    result["students"]["bf16-dataloader"] = student_throughput(device, True, False, steps, args.quick, "dataloader")
    result["teacher_finetune"] = teacher_throughput(device, bf16, max(2, steps // 5), 2 if args.quick else 16)
    result["total_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_out, args.out)
    lines = [f"# Device check: {result['device']} (bf16: {bf16}, torch {result['torch']})", "",
             f"smoke matrix: {result['smoke_matrix']['ok']}/{result['smoke_matrix']['cells']} cells ok in "
             f"{result['smoke_matrix']['wall_s']} s", ""]
    lines += [f"- input pipeline {k}: {v['samples_per_s']} samples/s" for k, v in result["input_pipeline"].items()]
    lines += [f"- student {name} ({variant}): " + (f"failed: {v['error']}" if "error" in v else
              f"{v['samples_per_s']} samples/s, first step {v['first_step_s']} s, GPU busy "
              f"{v['gpu_busy_fraction']}, peak {v.get('peak_memory_mb', '-')} MB")
              for variant, per in result["students"].items() for name, v in per.items()]
    lines += [f"- teacher fine-tuning {k}: {v['segments_per_s']} segments/s" for k, v in result["teacher_finetune"].items()]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if result["smoke_matrix"]["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
