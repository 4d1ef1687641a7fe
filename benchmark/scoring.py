"""Top-k hits, the one rule behind the accuracy metrics and the training loop's model selection."""
from __future__ import annotations

import numpy as np


def topk_correct(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """``[N]`` bool: whether each row's target is among its ``k`` highest scores (``k`` is
    clipped to the number of classes)."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return (top == targets[:, None]).any(axis=1)
