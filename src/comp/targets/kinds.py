"""Target kinds: what one row's target is, and what that decides in every stage.

``[target] kind`` of a competition spec (:class:`comp.config.spec.TargetSpec`):

==================== ========================================= ======= ==========================
kind                 one row's target (a label string in        head    the submission writes
                     the data's ``label`` column)
==================== ========================================= ======= ==========================
class                one class name (Dacon)                     softmax the class (name or index)
binary               one of two classes                         softmax P(target.positive)
class-probabilities  one class name                             softmax one probability per class
grade                an ordinal class ("0".."4")                softmax the grade (cut points fitted)
top-k                one class name (``new_whale`` is a class)  softmax k labels, best first
multi-label          the class names that apply, separated      sigmoid labels over fitted thresholds,
                     by ``target.separator``                            or one probability per class
regression           a number                                   sigmoid the number
==================== ========================================= ======= ==========================

A softmax kind trains on integer class indices (cross-entropy, mixup mixes their one-hots) and
its probabilities sum to 1. A sigmoid kind trains on a float matrix: one 0/1 column per label,
or, for regression, the number scaled to [0, 1] by the training targets' range (binary
cross-entropy on a scaled target: the loss the Pawpularity winners used); its predictions are
per-column probabilities, which a regression turns back into numbers.

:func:`encode` gives what training and scoring need of the data's labels; every stage asks
:func:`head` which family it deals with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from comp.errors import CompError

SOFTMAX, SIGMOID = "softmax", "sigmoid"
HEADS = {"class": SOFTMAX, "binary": SOFTMAX, "class-probabilities": SOFTMAX, "grade": SOFTMAX, "top-k": SOFTMAX,
         "multi-label": SIGMOID, "regression": SIGMOID}


def head(kind: str) -> str:
    """``softmax`` (one class per row) or ``sigmoid`` (independent columns) for a target kind."""
    return HEADS[kind]


def is_softmax(kind: str) -> bool:
    return HEADS[kind] == SOFTMAX


def split_labels(cell: str, separator: str) -> list[str]:
    """The labels of one multi-label cell (empty: none)."""
    return [part for part in str(cell).split(separator) if part != ""] if separator.strip() else \
        [part for part in str(cell).split() if part]


def multi_hot(labels: pd.Series, class_names: list[str], separator: str, where: str) -> np.ndarray:
    """(rows, classes) 0/1 float32 matrix of multi-label cells; a label outside the class map is an error."""
    index = {name: i for i, name in enumerate(class_names)}
    out = np.zeros((len(labels), len(class_names)), dtype=np.float32)
    for row, cell in enumerate(labels):
        for label in split_labels(cell, separator):
            if label not in index:
                raise CompError(f"{where}: label '{label}' (line {row + 2}) is not one of the run's "
                                f"{len(class_names)} classes")
            out[row, index[label]] = 1.0
    return out


def regression_values(labels: pd.Series, where: str) -> np.ndarray:
    """The regression targets as float64; a cell that is not a finite number is an error."""
    values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CompError(f"{where}: target {labels.iloc[row]!r} (line {row + 2}) is not a number")
    return values


def class_indices(labels: pd.Series, class_names: list[str], where: str) -> np.ndarray:
    """Integer class index of each label; a label outside the class map is an error."""
    index = {name: i for i, name in enumerate(class_names)}
    mapped = labels.map(index)
    if mapped.isna().any():
        row = int(np.flatnonzero(mapped.isna().to_numpy())[0])
        raise CompError(f"{where}: label {labels.iloc[row]!r} (line {row + 2}) is not one of the "
                        f"{len(class_names)} classes")
    return mapped.to_numpy(dtype=np.int64)


def truth(kind: str, labels: pd.Series, class_names: list[str], separator: str = " ",
          where: str = "the labels") -> np.ndarray:
    """What a metric scores against: class indices (softmax kinds), a 0/1 matrix (multi-label)
    or the numbers (regression)."""
    if kind == "multi-label":
        return multi_hot(labels, class_names, separator, where)
    if kind == "regression":
        return regression_values(labels, where)
    return class_indices(labels, class_names, where)


def regression_scale(labels: pd.Series, where: str) -> tuple[float, float]:
    """The scale of a regression run: the range of all its training targets (``labels``)."""
    return value_range(regression_values(labels, where))


def value_range(values: np.ndarray) -> tuple[float, float]:
    """The regression scale: the training targets' range (a constant target gets a unit range)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def encode(kind: str, labels: pd.Series, class_names: list[str], separator: str = " ",
           scale: tuple[float, float] | None = None, where: str = "the labels") -> np.ndarray:
    """What training fits: class indices (softmax kinds) or a float32 matrix (sigmoid kinds; a
    regression's numbers scaled to [0, 1] by ``scale``, the training range, as one column)."""
    values = truth(kind, labels, class_names, separator, where)
    if kind != "regression":
        return values
    lo, hi = scale if scale is not None else value_range(values)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)[:, None]


def decode_regression(probs: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """A regression head's outputs in [0, 1] back in the target's units."""
    lo, hi = scale
    return lo + np.asarray(probs, dtype=np.float64).reshape(len(probs), -1)[:, 0] * (hi - lo)


def metric_inputs(kind: str, probs: np.ndarray, scale: tuple[float, float] | None) -> np.ndarray:
    """Predictions in the form the metric scores: probabilities, or a regression's numbers."""
    return decode_regression(probs, scale) if kind == "regression" else probs


def strata(kind: str, y: np.ndarray, bins: int = 10) -> np.ndarray:
    """What folds are stratified on: the class index, or a regression's quantile bin (a
    multi-label matrix is stratified as it is, iteratively: :mod:`comp.data.folds`)."""
    if kind != "regression":
        return y
    values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right")


def training_targets(kind: str, labels: pd.Series, class_names: list[str], separator: str = " ",
                     where: str = "the labels") -> tuple[np.ndarray, tuple[float, float] | None]:
    """(what training fits, the regression scale or None) of a run's labels: the scale is the
    range of all its training targets, so every fold and every prediction shares it."""
    scale = regression_scale(labels, where) if kind == "regression" else None
    return encode(kind, labels, class_names, separator, scale, where), scale


def unfit_labels(labels: pd.Series, classes: list[str], kind: str, separator: str) -> tuple[pd.Series, str]:
    """Which of ``labels`` a run of ``kind`` with ``classes`` cannot hold (a mask), and what it would accept."""
    shown = f"{', '.join(classes[:5])}{'...' if len(classes) > 5 else ''}"
    if kind == "regression":
        return ~np.isfinite(pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)), "a number"
    if kind == "multi-label":
        known = set(classes)
        return (labels.map(lambda cell: not set(split_labels(cell, separator)) <= known),
                f"the run's classes ({shown}) separated by {separator!r}")
    return ~labels.isin(set(classes)), f"one of the run's classes ({shown})"
