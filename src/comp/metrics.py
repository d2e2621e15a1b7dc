"""Competition metrics by name, one registered function each (scikit-learn underneath).

The same names serve three places: a fold's and a run's scores, the order of comparison
tables, and the checkpoint monitor (``val_<metric>``, or Keras' ``val_loss``).

What a metric scores (:func:`score`): ``truth`` against ``probs``, where ``truth`` is

* 1-D class indices (one class per row: class, binary, class-probabilities, grade, top-k), and
  ``probs`` (N, C) class probabilities, normalised here to sum to 1 per row;
* a 0/1 matrix (N, K) (several labels per row), and ``probs`` (N, K) independent probabilities
  of each column, taken as they are;
* 1-D numbers (regression, rmse), and ``probs`` (N,) or (N, 1) the predicted numbers.

``decisions`` are what was fitted out of fold (:mod:`comp.targets.decisions`): the cuts of a
grade, the thresholds of several labels, the score of a new label. A metric is added with
:func:`metric`::

    @metric("balanced_accuracy")
    def _balanced_accuracy(truth, probs, decisions):
        return balanced_accuracy_score(truth, probs.argmax(1))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from comp.targets.decisions import grades, map_at_k, normalised, quadratic_kappa, threshold, top_k



def sk():
    """``sklearn.metrics``, imported on first use: every command reads the spec, whose metric
    names come from here, and most never score (importing scikit-learn takes about a second)."""
    import sklearn.metrics

    return sklearn.metrics


# name -> (function of (truth, probs, decisions), higher is better)
METRICS: dict[str, tuple[Callable, bool]] = {}
# name -> (lowest, highest) score: what a recorded score (a leaderboard's, in the ledger) may be
RANGES: dict[str, tuple[float, float]] = {}


def metric(name: str, higher: bool = True, low: float = 0.0, high: float = 1.0) -> Callable:
    """A decorator that registers a function of (truth, probs, decisions) as the metric ``name``,
    with its direction and the range its scores lie in."""
    def register(function: Callable) -> Callable:
        METRICS[name] = (function, higher)
        RANGES[name] = (low, high)
        return function
    return register


def _labels(truth: np.ndarray, probs: np.ndarray, decisions: dict) -> np.ndarray:
    """The predicted labels: the arg-max of class probabilities, or for a 0/1 ``truth`` matrix the
    columns over their fitted thresholds (0.5 where none were), one at least per row."""
    if truth.ndim == 1:
        return probs.argmax(axis=1)
    return threshold(probs, decisions.get("thresholds", 0.5))


@metric("accuracy")
def _accuracy(truth, probs, decisions):
    """The share of rows whose predicted labels are all right (exact match where several labels)."""
    return sk().accuracy_score(truth, _labels(truth, probs, decisions))


@metric("macro_f1")
def _macro_f1(truth, probs, decisions):
    """The unweighted mean of the F1 of each class (of each column where several labels)."""
    return sk().f1_score(truth, _labels(truth, probs, decisions), average="macro", zero_division=0)


@metric("micro_f1")
def _micro_f1(truth, probs, decisions):
    """The F1 of every (row, class) decision counted together (the accuracy where one class per row)."""
    return sk().f1_score(truth, _labels(truth, probs, decisions), average="micro", zero_division=0)


@metric("log_loss", higher=False, high=math.inf)
def _log_loss(truth, probs, decisions):
    """The mean negative log probability of the truth; for several labels, the mean over columns of
    each column's binary log loss. scikit-learn clips exact zeros at float64's eps."""
    if truth.ndim == 1:
        return sk().log_loss(truth, probs, labels=np.arange(probs.shape[1]))
    return np.mean([sk().log_loss(truth[:, j], probs[:, j], labels=[0, 1]) for j in range(truth.shape[1])])


@metric("roc_auc")
def _roc_auc(truth, probs, decisions):
    """The area under the ROC curve of one positive class: class 1 of two, or a single 0/1 column."""
    if truth.ndim == 1 and probs.shape[1] == 2:
        return sk().roc_auc_score(truth, probs[:, 1])
    if truth.ndim == 2 and truth.shape[1] == 1:
        return sk().roc_auc_score(truth[:, 0], probs[:, 0])
    raise ValueError(f"roc_auc scores one positive class (class indices against 2 columns, or one 0/1 "
                     f"column); received truth of shape {truth.shape} and probabilities of shape "
                     f"{probs.shape}: mean_roc_auc averages the AUCs of several columns")


@metric("mean_roc_auc")
def _mean_roc_auc(truth, probs, decisions):
    """The mean of the column AUCs (of the one-hot of class indices); columns whose truth holds a
    single value have no AUC and are left out; NaN where none is left."""
    columns = np.eye(probs.shape[1], dtype=int)[truth] if truth.ndim == 1 else truth
    scored = [j for j in range(columns.shape[1]) if np.unique(columns[:, j]).size == 2]
    if not scored:
        return math.nan
    return np.mean([sk().roc_auc_score(columns[:, j], probs[:, j]) for j in scored])


@metric("qwk", low=-1.0)
def _qwk(truth, probs, decisions):
    """Quadratic weighted kappa of grade indices against the grades of ``probs``: the expected grade
    cut at the fitted cuts, or the arg-max where none were fitted."""
    return quadratic_kappa(truth, grades(probs, decisions.get("cuts")), probs.shape[1])


@metric("map_at_5")
def _map_at_5(truth, probs, decisions):
    """Mean average precision of the 5 most probable classes: the mean of 1/rank of the truth among
    them (0 where absent); a new class (new_whale) ranked with its fitted score where there is one."""
    return map_at_k(truth, top_k(probs, 5, decisions.get("new_index"), decisions.get("new_score")))


@metric("rmse", higher=False, high=math.inf)
def _rmse(truth, values, decisions):
    """The root mean squared error of the predicted numbers."""
    return sk().root_mean_squared_error(truth, values)


def _arrays(metric: str, truth, probs) -> tuple[np.ndarray, np.ndarray]:
    """``truth`` and ``probs`` as the metric functions take them (see the module's docstring), checked."""
    truth, probs = np.asarray(truth), np.asarray(probs, dtype=np.float64)
    if metric == "rmse":
        values = probs.reshape(len(probs), -1)
        if values.shape[1] != 1:
            raise ValueError(f"rmse scores one predicted number per row; received predictions of shape {probs.shape}")
        return truth.astype(np.float64).ravel(), values[:, 0]
    if probs.ndim != 2 or truth.ndim not in (1, 2) or len(probs) != len(truth):
        raise ValueError(f"{metric} scores truth (N,) or (N, K) against probabilities (N, C); "
                         f"received truth of shape {truth.shape} and probabilities of shape {probs.shape}")
    if truth.ndim == 2:
        if truth.shape != probs.shape or not np.isin(truth, (0, 1)).all():
            raise ValueError(f"{metric}: a truth matrix holds 0/1 values, one column per column of the "
                             f"probabilities; received {truth.shape} against {probs.shape}")
        return truth.astype(int), probs  # independent columns: no normalising
    if not np.array_equal(truth, np.round(truth)):
        raise ValueError(f"{metric} scores class indices; received a truth of non-integer values")
    return truth.astype(int), normalised(probs)  # a float32 softmax's sums are off by ~1e-7


def score(metric: str, truth, probs, decisions: dict | None = None) -> float:
    """``metric`` of ``truth`` against ``probs`` with the ``decisions`` fitted out of fold (see the
    module's docstring); a KeyError names an unknown metric."""
    function = METRICS[metric][0]
    truth, probs = _arrays(metric, truth, probs)
    return float(function(truth, probs, decisions or {}))


def scores(metric: str, truth, probs, decisions: dict | None = None) -> dict:
    """What every fold, run and blend reports: the competition's metric (``score``), and, where the
    truth is class indices, the accuracy and the log loss beside it."""
    result = {"score": score(metric, truth, probs, decisions)}
    if metric != "rmse" and np.ndim(truth) == 1:
        result |= {"accuracy": score("accuracy", truth, probs), "log_loss": score("log_loss", truth, probs)}
    return result


def range_problem(metric: str, value: float) -> str | None:
    """Why ``value`` cannot be a score of ``metric``, naming the value, the metric and its range
    (a percentage of a fraction gets a hint); None where it can be one."""
    low, high = RANGES[metric]
    if math.isfinite(value) and low <= value <= high:
        return None
    where = f"in [{low:g}, {high:g}]" if math.isfinite(high) else f"finite and {low:g} or more"
    hint = f" (scores are fractions: {value / 100:.6g}?)" if high == 1 and 1 < value <= 100 else ""
    return f"{value!r} is out of range: {metric} scores are {where}{hint}"


def per_class_f1(truth, probs, decisions: dict | None = None) -> list[float]:
    """F1 of each class (in class order) of the predicted labels (:func:`score`'s: the arg-max, or a
    truth matrix's columns over their thresholds); 0 for a class never predicted nor present."""
    truth, probs = _arrays("macro_f1", truth, probs)
    values = sk().f1_score(truth, _labels(truth, probs, decisions or {}), labels=np.arange(probs.shape[1]),
                      average=None, zero_division=0)
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
