"""Saving and restoring a training loop's state between epochs (model, distillation head,
optimiser, RNG, losses), on top of :mod:`benchmark.checkpoint`."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint


def save(folder: Path, epoch: int, inner: torch.nn.Module, optimizer: Any, generator: torch.Generator,
         accelerator: Any, stages: list[str], epoch_losses: list[float]) -> None:
    """Model + distillation head, optimizer, RNG states and losses after ``epoch`` epochs."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        tensors = {f"module/{k}": v for k, v in inner.state_dict().items()}
        opt_tensors, opt_state = checkpoint.pack_optimizer(optimizer.state_dict())
        rng_tensors, rng_plain = checkpoint.rng_state(generator)
        scaler = getattr(accelerator, "scaler", None)
        state = {"stages": stages, "epoch_losses": epoch_losses, "optimizer": opt_state, "rng": rng_plain,
                 "scaler": scaler.state_dict() if scaler is not None else None}
        checkpoint.save(folder, epoch, {**tensors, **opt_tensors, **rng_tensors}, state)
    accelerator.wait_for_everyone()


def resume(folder: Path, inner: torch.nn.Module, optimizer: Any, generator: torch.Generator, accelerator: Any,
           stages: list[str], log: logging.Logger) -> tuple[int, list[float]]:
    """Load the newest usable checkpoint; (epochs done, their losses), or (0, []) for none."""
    ckpt = checkpoint.latest(folder)
    if ckpt is None:
        return 0, []
    state = ckpt.state
    if state.get("stages") != stages or not 0 < ckpt.epoch < len(stages):
        log.warning("ignoring checkpoint %s: it was saved for another epoch schedule", ckpt.path)
        return 0, []
    saved = {k[len("module/"):]: v for k, v in ckpt.tensors.items() if k.startswith("module/")}
    current = inner.state_dict()
    if set(saved) != set(current) or any(saved[k].shape != current[k].shape for k in current):
        log.warning("ignoring checkpoint %s: its tensors do not match the model", ckpt.path)
        return 0, []
    inner.load_state_dict(saved)
    optimizer.load_state_dict(checkpoint.unpack_optimizer(ckpt.tensors, state["optimizer"]))
    scaler = getattr(accelerator, "scaler", None)
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    checkpoint.restore_rng(ckpt.tensors, state["rng"], generator)
    log.info("resuming from checkpoint after epoch %d of %d: continuing at epoch %d",
             ckpt.epoch, len(stages), ckpt.epoch + 1)
    return ckpt.epoch, [float(v) for v in state.get("epoch_losses", [])][: ckpt.epoch]
