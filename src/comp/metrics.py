"""Competition metrics on class probabilities, by name (scikit-learn underneath).

The same names serve three places: a fold's and a run's scores, the order of comparison
tables, and the checkpoint monitor (``val_<metric>``, or Keras' ``val_loss``).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss

# name -> (function of (y_true, probs), higher is better)
METRICS = {
    "accuracy": (lambda y, p: accuracy_score(y, p.argmax(1)), True),
    "macro_f1": (lambda y, p: f1_score(y, p.argmax(1), average="macro"), True),
    # probabilities arrive normalised (see score); log_loss clips exact zeros itself
    "log_loss": (lambda y, p: log_loss(y, p, labels=np.arange(p.shape[1])), False),
}
# name -> (lowest, highest) score: what a recorded score (a leaderboard's, in the ledger) may be
RANGES = {"accuracy": (0.0, 1.0), "macro_f1": (0.0, 1.0), "log_loss": (0.0, math.inf)}


def range_problem(metric: str, value: float) -> str | None:
    """Why ``value`` cannot be a score of ``metric``, naming the value, the metric and its range
    (a percentage of a fraction gets a hint); None where it can be one."""
    low, high = RANGES[metric]
    if math.isfinite(value) and low <= value <= high:
        return None
    where = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f"finite and {low:g} or more"
    hint = f" (scores are fractions: {value / 100:.6g}?)" if high == 1 and 1 < value <= 100 else ""
    return f"{value!r} is out of range: {metric} scores are {where}{hint}"


def score(metric: str, y_true: np.ndarray, probs: np.ndarray) -> float:
    """The metric of integer labels ``y_true`` against probabilities ``probs`` (N, C)."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # float32 softmax sums are off by ~1e-7
    return float(METRICS[metric][0](np.asarray(y_true), probs))


def scores(metric: str, y_true: np.ndarray, probs: np.ndarray) -> dict:
    """The competition's metric, accuracy and log loss: what every fold, run and blend reports."""
    return {"score": score(metric, y_true, probs), "accuracy": score("accuracy", y_true, probs),
            "log_loss": score("log_loss", y_true, probs)}


def per_class_f1(y_true: np.ndarray, probs: np.ndarray) -> list[float]:
    """F1 of each class (in class order) of the arg-max predictions; 0 for a class never predicted nor present."""
    probs = np.asarray(probs)
    values = f1_score(np.asarray(y_true), probs.argmax(1), labels=np.arange(probs.shape[1]), average=None,
                      zero_division=0)
    return [round(float(v), 4) for v in values]


def per_class_f1_text(per_class: dict[str, float]) -> str:
    """One line: ``per-class F1 (out-of-fold): cat 0.9120 | dog 0.8731``, worst class first."""
    worst_first = sorted(per_class.items(), key=lambda item: item[1])
    return "per-class F1 (out-of-fold, worst first): " + " | ".join(f"{c} {v:.4f}" for c, v in worst_first)


def higher_is_better(metric: str) -> bool:
    """For a metric name, or a monitored log key (``val_accuracy``, ``val_loss``, ``val_macro_f1``)."""
    name = metric.removeprefix("val_")
    return False if name == "loss" else METRICS[name][1]


def best_index(values, metric: str) -> int:
    """Position of the best of ``values`` (a pandas Series or a sequence) for ``metric``."""
    values = np.asarray(values, dtype=np.float64)
    return int(np.nanargmax(values) if higher_is_better(metric) else np.nanargmin(values))


def monitor_for(metric: str, requested: str = "auto") -> str:
    """The epoch log key the best checkpoint follows: the competition's metric on the
    validation rows (``val_accuracy``, ``val_macro_f1``, ``val_log_loss``) unless a recipe
    names one (``train.monitor``)."""
    return f"val_{metric}" if requested == "auto" else requested
