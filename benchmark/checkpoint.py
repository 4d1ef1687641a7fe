"""Mid-training checkpoints of a cell, so a killed long cell resumes where it stopped.

    runs/<run_id>/checkpoint/epoch-0003/tensors.safetensors   model, distillation head, optimizer
                                                             tensors, torch RNG states
    runs/<run_id>/checkpoint/epoch-0003/state.json           epoch, losses so far, optimizer
                                                             settings, numpy / python RNG states

Each ``epoch-NNNN`` folder is written under a temporary name, its files fsynced, then renamed
into place, so a folder with that name is always complete; the newest one wins and older ones
are removed after a new one is in place. No pickle anywhere: tensors go to safetensors, the rest
to JSON. The runner removes the whole folder once the cell's record is written.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

FOLDER = "checkpoint"
TENSORS = "tensors.safetensors"
STATE = "state.json"
PREFIX = "epoch-"


@dataclass
class Checkpoint:
    epoch: int  # epochs completed (pretraining epochs included)
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]
    path: Path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(folder: Path, epoch: int, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> Path:
    """Write checkpoint ``epoch`` atomically into ``folder`` and drop the older ones."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{epoch:04d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=folder))
    try:
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(tmp / TENSORS))
        (tmp / STATE).write_text(json.dumps({**state, "epoch": epoch}, indent=1), encoding="utf-8")
        for name in (TENSORS, STATE):
            _fsync(tmp / name)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _fsync(folder)
    except OSError:
        pass
    for old in folder.iterdir():
        if old != final:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    return final


def latest(folder: Path) -> Checkpoint | None:
    """The newest complete checkpoint in ``folder``, or None. Damaged ones are skipped."""
    if not folder.is_dir():
        return None
    candidates = []
    for path in folder.iterdir():
        if path.is_dir() and path.name.startswith(PREFIX) and path.name[len(PREFIX):].isdigit():
            candidates.append((int(path.name[len(PREFIX):]), path))
    for epoch, path in sorted(candidates, reverse=True):
        try:
            state = json.loads((path / STATE).read_text(encoding="utf-8"))
            tensors = load_file(str(path / TENSORS))
        except (OSError, ValueError, RuntimeError, SafetensorError):  # truncated or damaged: an older one
            continue
        if state.get("epoch") == epoch:
            return Checkpoint(epoch, tensors, state, path)
    return None


def clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


# -- packing: tensors into a flat safetensors dict, everything else into JSON -------------------


def pack_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into tensors and a JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        plain[str(index)] = {}
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{index}/{name}"] = value
            else:
                plain[str(index)][name] = value
    return tensors, {"state": plain, "param_groups": state_dict["param_groups"]}


def unpack_optimizer(tensors: dict[str, torch.Tensor], packed: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in packed["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": packed["param_groups"]}


def rng_state(generator: torch.Generator | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Torch (CPU, CUDA, the DataLoader's generator), numpy and python RNG states."""
    tensors = {"rng/torch": torch.get_rng_state()}
    if generator is not None:
        tensors["rng/loader"] = generator.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).astype(np.int64))
    version, internal, gauss = random.getstate()
    plain = {"numpy": [kind, int(pos), int(has_gauss), float(cached)],
             "python": [version, list(internal), gauss]}
    return tensors, plain


def restore_rng(tensors: dict[str, torch.Tensor], plain: dict[str, Any], generator: torch.Generator | None) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    if generator is not None and "rng/loader" in tensors:
        generator.set_state(tensors["rng/loader"])
    cuda = [tensors[k] for k in sorted((t for t in tensors if t.startswith("rng/cuda/")),
                                       key=lambda t: int(t.rsplit("/", 1)[1]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    kind, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((kind, tensors["rng/numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))
