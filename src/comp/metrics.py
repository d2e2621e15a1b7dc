"""Competition metrics on class probabilities, by name (scikit-learn underneath)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss

# name -> (function of (y_true, probs), higher is better)
METRICS = {
    "accuracy": (lambda y, p: accuracy_score(y, p.argmax(1)), True),
    "macro_f1": (lambda y, p: f1_score(y, p.argmax(1), average="macro"), True),
    # probabilities arrive normalised (see score); log_loss clips exact zeros itself
    "log_loss": (lambda y, p: log_loss(y, p, labels=np.arange(p.shape[1])), False),
}


def score(metric: str, y_true: np.ndarray, probs: np.ndarray) -> float:
    """The metric of integer labels ``y_true`` against probabilities ``probs`` (N, C)."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # float32 softmax sums are off by ~1e-7
    return float(METRICS[metric][0](np.asarray(y_true), probs))


def higher_is_better(metric: str) -> bool:
    return METRICS[metric][1]
