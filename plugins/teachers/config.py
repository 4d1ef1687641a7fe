"""The configurations of the built-in teachers that have a torch model, torch-free: read by the
components and by the models, so that neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.settings import setting


@dataclass
class SequenceGRUConfig:
    history_len: int = setting(5, ge=1)
    embed_dim: int = setting(32, ge=1)
    hidden: int = setting(64, ge=1)
    epochs: int = setting(8, ge=1)
    batch_size: int = setting(64, ge=1)
    lr: float = setting(3e-3, gt=0.0)
    weight_decay: float = setting(1e-4, ge=0.0)
    dropout: float = setting(0.0, ge=0.0, lt=1.0)  # on the embedded inputs and on the GRU's state
    # an action's logit also adds the verb and noun logits of its pair (rare actions share what
    # is learnt about their verb and noun)
    factorised: bool = False
    aux_weight: float = setting(0.0, ge=0.0)  # weight of the verb and noun cross-entropies
    label_smoothing: float = setting(0.0, ge=0.0, lt=1.0)
    # fraction of the training videos held out to keep the epoch with the best held-out top-5
    # (early stopping; the validation split is never looked at); 0: keep the last epoch
    holdout_videos: float = setting(0.0, ge=0.0, lt=1.0)
    ensemble: int = setting(1, ge=1)  # members fitted with seeds seed, seed+1, ...; their mean log-probability
