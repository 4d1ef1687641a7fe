"""Fitting the ``seq-gru`` teacher: one or more members, each with early stopping on held-out
training videos (never on validation). Imported only when the teacher is fitted."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from benchmark.api import AnticipationData
from benchmark.progress import SILENT, Progress
from benchmark.scoring import topk_correct

from .sequence_model import SeqNet


def held_out_videos(data: AnticipationData, fraction: float, seed: int) -> set[str]:
    """``fraction`` of the training videos, drawn with ``seed``, for early stopping."""
    if fraction <= 0:
        return set()
    videos = sorted({s.video for s in data.splits["train"]})
    count = max(1, int(round(fraction * len(videos))))
    return {videos[i] for i in np.random.default_rng(seed).permutation(len(videos))[:count]}


def fit_member(teacher: Any, data: AnticipationData, held: set[str], device: torch.device,
               seed: int, progress: Progress = SILENT) -> tuple[SeqNet, dict[str, Any]]:
    """One member trained on the training videos outside ``held``; with held-out videos, the
    weights of the epoch with the best held-out top-5 are kept."""
    c = teacher.config
    torch.manual_seed(seed)
    net = SeqNet(data, c).to(device)
    x = teacher._ids(data, "train")
    samples = data.splits["train"]
    y = {k: torch.as_tensor([getattr(s.target, k) for s in samples], dtype=torch.long) for k in ("action", "verb", "noun")}
    fit_rows = torch.as_tensor([s.video not in held for s in samples])
    loader = DataLoader(TensorDataset(x[fit_rows], y["action"][fit_rows], y["verb"][fit_rows], y["noun"][fit_rows]),
                        batch_size=c.batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.AdamW(net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    held_top5: list[float] = []
    for epoch in range(c.epochs):
        net.train()
        progress.detail(f"epoch {epoch + 1}/{c.epochs}")
        for xb, ab, vb, nb in progress.iterate(loader):
            out = net(xb.to(device))
            loss = nn.functional.cross_entropy(out["action"], ab.to(device), label_smoothing=c.label_smoothing)
            if c.aux_weight:
                loss = loss + c.aux_weight * (nn.functional.cross_entropy(out["verb"], vb.to(device))
                                              + nn.functional.cross_entropy(out["noun"], nb.to(device)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if held:
            score = held_out_top5(net, x[~fit_rows], y["action"][~fit_rows], device)
            held_top5.append(round(score, 2))
            if best is None or score > best[0]:
                best = (score, epoch, {k: v.detach().clone() for k, v in net.state_dict().items()})
    info: dict[str, Any] = {"seed": seed, "epochs": c.epochs}
    if best is not None:
        net.load_state_dict(best[2])
        info.update(kept_epoch=best[1] + 1, held_out_videos=len(held), held_out_top5=held_top5)
    net.eval()
    return net, info


@torch.no_grad()
def held_out_top5(net: SeqNet, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> float:
    net.eval()
    logits = torch.cat([net(xb.to(device))["action"].float().cpu() for (xb,) in DataLoader(TensorDataset(x), 1024)])
    net.train()
    return 100.0 * float(topk_correct(logits.numpy(), y.numpy(), 5).mean())


@torch.no_grad()
def predict_members(nets: list[SeqNet], x: torch.Tensor, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Logits (one member's, or the mean of the members' log-probabilities) and the first
    member's feature."""
    logits, features = [], []
    for (xb,) in DataLoader(TensorDataset(x), batch_size=512):
        outs = [net(xb.to(device)) for net in nets]
        lo = outs[0]["action"].float() if len(outs) == 1 else torch.stack(
            [torch.log_softmax(o["action"].float(), 1) for o in outs]).mean(0)
        logits.append(lo.cpu())
        features.append(outs[0]["feature"].float().cpu())
    return torch.cat(logits).numpy(), torch.cat(features).numpy()
