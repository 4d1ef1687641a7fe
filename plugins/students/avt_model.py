"""The torch modules behind the AVT students (imported only when a model is built)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import AVTConfig

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
        self.past_first_frame = cfg.past_first_frame
        if cfg.init == "avt":
            for layer in (self.encoder, self.decoder, self.classifier):
                avt_init(layer)

    def forward(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        steps = feats.shape[1]
        if steps > self.max_steps:
            raise ValueError(f"AVT: {steps} observed steps, more than max_steps={self.max_steps}; raise max_steps")
        hidden = self.gpt(inputs_embeds=self.encoder(feats)).last_hidden_state  # [B, T, H]
        predicted = self.decoder(hidden)  # [B, T, D]: the feature expected at step t + 1
        step_logits = self.classifier(self.drop(predicted))  # [B, T, C]
        out = {"hidden": hidden, "predicted": predicted, "step_logits": step_logits}
        if self.past_first_frame:  # only then: the extra dropout draw would change other runs
            out["first_logits"] = self.classifier(self.drop(feats[:, 0]))
        return out


def avt_init(module: nn.Module) -> None:
    """AVT's ``BaseModel._initialize_weights`` for every ``nn.Linear`` in ``module``: weights
    N(0, 0.01), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


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
        views = self.backbone.views if self.backbone is not None and not self.training else 1
        if views > 1:  # AVT-b evaluation: every output averaged over the crops and flips
            outs = [self._one_view(x, v) for v in range(views)]
            return {k: torch.stack([o[k] for o in outs]).mean(0) for k in outs[0]}
        return self._one_view(x, 0)

    def _one_view(self, x: torch.Tensor, view: int) -> dict[str, torch.Tensor]:
        feats = self.backbone(x, view) if self.backbone is not None else x
        out = self.head(feats)
        return {
            "logits": out["step_logits"][:, -1],
            "feature": out["hidden"][:, -1],
            "predicted": out["predicted"],
            "observed": feats,
            "step_logits": out["step_logits"],
            **({"first_logits": out["first_logits"]} if "first_logits" in out else {}),
        }


def avt_losses(output: dict[str, torch.Tensor], targets: torch.Tensor,
               step_targets: torch.Tensor | None = None, past_first_frame: bool = False) -> dict[str, torch.Tensor]:
    """Unweighted AVT loss terms: ``cls`` (next action), ``feat`` (MSE of the prediction at t
    against the observed feature at t + 1; the target is not detached, as in AVT, so a trained
    backbone gets its gradient) and ``past`` (classifier on the prediction at t against
    ``step_targets[:, t + 1]``, and with ``past_first_frame`` on the first observed feature
    against ``step_targets[:, 0]``, as AVT's ``classifier_on_past``; -100 ignored; 0 without
    labels)."""
    logits = output["logits"].float()
    zero = logits.sum() * 0.0  # keeps the graph (and the device) for terms with nothing to score
    terms = {"cls": F.cross_entropy(logits, targets)}
    predicted, observed = output["predicted"], output["observed"]
    steps = predicted.shape[1]
    if steps > 1:
        terms["feat"] = F.mse_loss(predicted[:, :-1].float(), observed[:, 1:].float())
    else:
        terms["feat"] = zero
    terms["past"] = zero
    if step_targets is not None and steps > 1:
        labels = step_targets.long()
        if labels.shape[1] != steps:
            if bool((labels != IGNORE).any()):
                raise ValueError(f"AVT: step_targets has {labels.shape[1]} steps, the input {steps}")
            return terms  # the loop's placeholder when no step labels exist
        past = output["step_logits"][:, :-1].float()
        if past_first_frame:
            if "first_logits" not in output:
                raise ValueError("AVT: past_first_frame needs the model built with past_first_frame")
            past = torch.cat([output["first_logits"][:, None].float(), past], dim=1)
        else:
            labels = labels[:, 1:]
        if bool((labels != IGNORE).any()):
            terms["past"] = F.cross_entropy(past.reshape(-1, past.shape[-1]), labels.reshape(-1),
                                            ignore_index=IGNORE)
    return terms
