"""The torch modules behind the AVT students (imported only when a model is built)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .avt import AVTConfig

IGNORE = -100


class AVTHead(nn.Module):
    """AVT-h: encoder D -> H, causal GPT-2, decoder H -> D, classifier on predicted features."""

    def __init__(self, input_dim: int, num_classes: int, cfg: AVTConfig):
        super().__init__()
        from transformers import GPT2Config, GPT2Model

        self.encoder = nn.Linear(input_dim, cfg.width, bias=False)
        self.gpt = GPT2Model(GPT2Config(
            n_embd=cfg.width, n_layer=cfg.layers, n_head=cfg.heads, n_positions=cfg.max_steps,
            resid_pdrop=cfg.gpt_dropout, embd_pdrop=cfg.gpt_dropout, attn_pdrop=cfg.gpt_dropout,
            vocab_size=1, bos_token_id=None, eos_token_id=None, use_cache=False,
        ))
        # inputs come as embeddings: the token table is never used, keep it out of training
        self.gpt.wte.weight.requires_grad_(False)
        self.decoder = nn.Linear(cfg.width, input_dim, bias=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(input_dim, num_classes)
        self.max_steps = cfg.max_steps

    def forward(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        steps = feats.shape[1]
        if steps > self.max_steps:
            raise ValueError(f"AVT: {steps} observed steps, more than max_steps={self.max_steps}; raise max_steps")
        hidden = self.gpt(inputs_embeds=self.encoder(feats)).last_hidden_state  # [B, T, H]
        predicted = self.decoder(hidden)  # [B, T, D]: the feature expected at step t + 1
        step_logits = self.classifier(self.drop(predicted))  # [B, T, C]
        return {"hidden": hidden, "predicted": predicted, "step_logits": step_logits}


class AVTNet(nn.Module):
    """AVT-h, optionally behind a per-frame backbone (AVT-b).

    forward(x [B, T, D_in]) gives ``logits`` [B, C] (classifier on the last step's predicted
    feature), ``feature`` [B, H] (the last step's GPT-2 state), and for the losses
    ``predicted`` [B, T, D], ``observed`` [B, T, D] (the features the head received) and
    ``step_logits`` [B, T, C]."""

    def __init__(self, input_dim: int, num_classes: int, cfg: AVTConfig, backbone: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = AVTHead(input_dim, num_classes, cfg)
        self.feature_dim = cfg.width

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.backbone(x) if self.backbone is not None else x
        out = self.head(feats)
        return {
            "logits": out["step_logits"][:, -1],
            "feature": out["hidden"][:, -1],
            "predicted": out["predicted"],
            "observed": feats,
            "step_logits": out["step_logits"],
        }


def avt_losses(output: dict[str, torch.Tensor], targets: torch.Tensor,
               step_targets: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Unweighted AVT loss terms: ``cls`` (next action), ``feat`` (MSE of the prediction at t
    against the observed feature at t + 1, targets detached) and ``past`` (classifier on the
    prediction at t against ``step_targets[:, t + 1]``, -100 ignored; 0 without labels)."""
    logits = output["logits"].float()
    zero = logits.sum() * 0.0  # keeps the graph (and the device) for terms with nothing to score
    terms = {"cls": F.cross_entropy(logits, targets)}
    predicted, observed = output["predicted"], output["observed"]
    steps = predicted.shape[1]
    if steps > 1:
        terms["feat"] = F.mse_loss(predicted[:, :-1].float(), observed[:, 1:].detach().float())
    else:
        terms["feat"] = zero
    terms["past"] = zero
    if step_targets is not None and steps > 1:
        labels = step_targets.long()
        if labels.shape[1] != steps:
            if bool((labels != IGNORE).any()):
                raise ValueError(f"AVT: step_targets has {labels.shape[1]} steps, the input {steps}")
            return terms  # the loop's placeholder when no step labels exist
        labels = labels[:, 1:]
        if bool((labels != IGNORE).any()):
            past = output["step_logits"][:, :-1].float()
            terms["past"] = F.cross_entropy(past.reshape(-1, past.shape[-1]), labels.reshape(-1),
                                            ignore_index=IGNORE)
    return terms
