"""Decisions fitted out of fold that turn probabilities into hard answers: the cut points of a
grade (QWK), the per-column thresholds of several labels (F1), the score of a "new" label
ranked among the known ones (MAP@k with new_whale).

Each ``fit_*`` works on out-of-fold probabilities and never does worse on them than where it
starts (the expected grade rounded at k + 0.5, thresholds of 0.5). :func:`fit_decisions` gathers
what a metric needs into a JSON-serialisable dict, which :func:`comp.metrics.score` applies::

    decisions = fit_decisions("qwk", oof_labels, oof_probs)   # {"cuts": [0.41, 1.38, 2.55, 3.47]}
    score("qwk", oof_labels, oof_probs, decisions)
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = np.round(np.arange(0.02, 0.99, 0.02), 2)  # the grid of thresholds tried; 0.5 is one
NEW_SCORES = np.round(np.linspace(0.0, 1.0, 101), 2)  # the grid of scores tried for a new label


def normalised(probs) -> np.ndarray:
    """Class probabilities (N, C) as float64 rows summing to 1 (a float32 softmax's sums are off by ~1e-7)."""
    probs = np.asarray(probs, dtype=np.float64)
    return probs / probs.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- grades (QWK)


def grades(probs, cuts=None) -> np.ndarray:
    """Grade index (0..C-1) of each row of ``probs`` (N, C): the expected grade ``probs @ arange(C)``
    cut at the C-1 ``cuts`` (in any order; a value on a cut takes the higher grade), or the arg-max
    where there are no cuts."""
    probs = np.asarray(probs, dtype=np.float64)
    if cuts is None:
        return probs.argmax(axis=1)
    cuts = np.sort(np.asarray(cuts, dtype=np.float64))
    if cuts.shape != (probs.shape[1] - 1,):
        raise ValueError(f"{probs.shape[1]} grades take {probs.shape[1] - 1} cuts; received {len(cuts)}")
    return np.searchsorted(cuts, probs @ np.arange(probs.shape[1]), side="right")


def quadratic_kappa(truth, predicted, n_grades: int) -> float:
    """Quadratic weighted kappa of grade indices, the grades 0..n_grades-1 weighted by their values
    (not by the positions of those that occur, scikit-learn's default)."""
    from sklearn.metrics import cohen_kappa_score  # imported on use, as comp.metrics does

    return float(cohen_kappa_score(truth, predicted, labels=np.arange(n_grades), weights="quadratic"))


def _cut_search(loss, cuts: np.ndarray, expected: np.ndarray, rounds: int = 2) -> np.ndarray:
    """``cuts`` moved one at a time to the best of 33 quantiles of the ``expected`` grades between
    its neighbours (the cut kept where none is better), ``rounds`` times over."""
    # by hand: scipy's brute grids every cut at once (33**(C-1) tries), and its scalar minimisers
    # stall on the flat steps of a kappa, which only changes where a cut passes a row
    cuts = np.sort(cuts)
    for _ in range(rounds):
        for i in range(len(cuts)):
            low = cuts[i - 1] if i > 0 else -np.inf
            high = cuts[i + 1] if i < len(cuts) - 1 else np.inf
            inside = expected[(expected > low) & (expected < high)]
            tried = np.concatenate([cuts[i:i + 1], np.quantile(inside, np.linspace(0, 1, 33)) if inside.size else []])
            cuts[i] = tried[int(np.argmin([loss(np.r_[cuts[:i], c, cuts[i + 1:]]) for c in tried]))]
    return cuts


def fit_cuts(truth, probs) -> list[float]:
    """The C-1 increasing cuts of the expected grade that maximise QWK against grade indices ``truth``:
    from k + 0.5, each cut moved in turn over the rows' expected grades, then Nelder-Mead on -QWK
    (the "optimized rounder"); the start where that finds nothing better."""
    truth, probs = np.asarray(truth), np.asarray(probs, dtype=np.float64)
    n_grades = probs.shape[1]
    if n_grades < 2:
        return []
    start = np.arange(n_grades - 1) + 0.5

    def loss(cuts: np.ndarray) -> float:
        return -np.nan_to_num(quadratic_kappa(truth, grades(probs, cuts), n_grades), nan=-1.0)

    # Nelder-Mead alone stalls on the flat steps of the loss, a few hundredths of a grade from its start
    searched = _cut_search(loss, start, probs @ np.arange(n_grades))
    from scipy.optimize import minimize  # imported on use

    found = minimize(loss, searched, method="Nelder-Mead").x
    best = min((found, searched, start), key=loss)  # the first of equals: the most refined
    return [float(c) for c in np.sort(best)]


# --------------------------------------------------------------------------- ranked labels (MAP@k)


def top_k(probs, k: int, new_index: int | None = None, new_score: float | None = None) -> np.ndarray:
    """The ``k`` class indices (N, k) of the highest probabilities of each row, best first, ties
    going to the lower index; with ``new_index``, that class's probability is ``new_score`` instead."""
    probs = np.asarray(probs, dtype=np.float64)
    if new_index is not None:
        probs = probs.copy()
        probs[:, new_index] = new_score
    return np.argsort(-probs, axis=1, kind="stable")[:, :k]  # stable: equal ones keep index order


def map_at_k(truth, ranked) -> float:
    """Mean average precision at k of one true class index per row against ``ranked`` (N, k) class
    indices, best first: the mean of 1/rank of the truth (0 where it is not among them), as
    MLE-bench's mean_average_precision_at_k with a single true label."""
    # numpy, not scikit-learn: label_ranking_average_precision_score ranks every class, not the first k
    hits = np.asarray(ranked) == np.asarray(truth)[:, None]
    return float((hits / np.arange(1, hits.shape[1] + 1)).sum(axis=1).mean())


def _map_with_new(truth, others, values, new_index: int, new_score: float, k: int) -> float:
    """MAP@k of the known classes ``others`` (N, m <= k), ranked with their probabilities ``values``,
    once the new class scored ``new_score`` takes its place among them as :func:`top_k` ranks it."""
    place = ((values > new_score) | ((values == new_score) & (others < new_index))).sum(axis=1)
    hit = others == truth[:, None]
    position = np.where(hit.any(axis=1), hit.argmax(axis=1), k)  # k: not among the others
    rank = 1 + np.where(truth == new_index, place, position + (position >= place))
    return float(np.where(rank <= k, 1.0 / rank, 0.0).mean())


def fit_new_score(truth, probs, new_index: int, k: int = 5) -> float:
    """The score in [0, 1] (a grid of 0.01 steps; the lowest of equals) that the new class
    ``new_index`` is ranked with, maximising MAP@k against class indices ``truth``."""
    truth, probs = np.asarray(truth), np.asarray(probs, dtype=np.float64)
    # the known classes are ranked once; each score on the grid only moves the new one among them
    known = np.delete(probs, new_index, axis=1)
    ranked = top_k(known, k)
    values = np.take_along_axis(known, ranked, axis=1)
    others = ranked + (ranked >= new_index)  # back to the indices of probs
    found = [_map_with_new(truth, others, values, new_index, s, k) for s in NEW_SCORES]
    return float(NEW_SCORES[int(np.argmax(found))])


# --------------------------------------------------------------------------- several labels (F1)


def threshold(probs, thresholds, at_least_one: bool = True) -> np.ndarray:
    """The labels (N, K) bool of per-column probabilities above their ``thresholds`` (one per column,
    or one for all); with ``at_least_one``, a row with none above takes its arg-max column."""
    probs = np.asarray(probs, dtype=np.float64)
    chosen = probs > np.asarray(thresholds, dtype=np.float64)
    if at_least_one:
        empty = np.flatnonzero(~chosen.any(axis=1))
        chosen[empty, probs[empty].argmax(axis=1)] = True
    return chosen


def _f1(truth, probs, thresholds, average: str) -> float:
    """F1 (``average``: micro or macro) of the labels of ``probs`` over ``thresholds``, one at least per row."""
    from sklearn.metrics import f1_score  # imported on use, as comp.metrics does

    return float(f1_score(truth, threshold(probs, thresholds), average=average, zero_division=0))


def _column_threshold(truth, probs) -> float:
    """The threshold of the grid that gives one column (0/1 ``truth``, its ``probs``) its best F1;
    0.5 where none is better."""
    from sklearn.metrics import f1_score

    # one scikit-learn call: the column repeated once per threshold, each repeat a label of its own
    found = f1_score(np.repeat(truth[:, None], len(THRESHOLDS), axis=1), probs[:, None] > THRESHOLDS,
                     average=None, zero_division=0)
    at_half = found[np.flatnonzero(THRESHOLDS == 0.5)[0]]
    return float(THRESHOLDS[int(np.argmax(found))]) if found.max() > at_half else 0.5


def fit_thresholds(truth, probs, metric: str) -> list[float]:
    """One threshold per column of ``probs`` (N, K) against 0/1 ``truth`` (N, K): for micro_f1 one from
    the grid for all columns, for macro_f1 each column's best alone; 0.5 for all where that is no better."""
    truth, probs = np.asarray(truth).astype(int), np.asarray(probs, dtype=np.float64)
    if metric not in ("micro_f1", "macro_f1"):
        raise ValueError(f"thresholds are fitted for micro_f1 or macro_f1; received {metric!r}")
    average = metric.removesuffix("_f1")
    if average == "micro":
        found = [_f1(truth, probs, t, average) for t in THRESHOLDS]
        fitted = np.full(probs.shape[1], THRESHOLDS[int(np.argmax(found))])
    else:
        fitted = np.array([_column_threshold(truth[:, j], probs[:, j]) for j in range(probs.shape[1])])
    default = np.full(probs.shape[1], 0.5)
    better = _f1(truth, probs, fitted, average) > _f1(truth, probs, default, average)
    return [float(t) for t in (fitted if better else default)]


# --------------------------------------------------------------------------- all together


def fit_decisions(metric: str, truth, probs, new_index: int | None = None) -> dict:
    """What ``metric`` needs fitted out of fold (class probabilities are normalised first, as
    :func:`comp.metrics.score` does): ``{"cuts": [...]}`` for qwk, ``{"new_index": i, "new_score": s}``
    for map_at_5 with a new class, ``{"thresholds": [...]}`` for micro_f1 and macro_f1 on a 0/1
    matrix ``truth``; ``{}`` for anything else. Plain floats and ints: JSON-serialisable."""
    truth = np.asarray(truth)
    if metric == "qwk":
        return {"cuts": fit_cuts(truth, normalised(probs))}
    if metric == "map_at_5" and new_index is not None:
        return {"new_index": int(new_index), "new_score": fit_new_score(truth, normalised(probs), new_index, k=5)}
    if metric in ("micro_f1", "macro_f1") and truth.ndim == 2:
        return {"thresholds": fit_thresholds(truth, probs, metric)}
    return {}


def answers(kind: str, probs, decisions: dict, k: int = 1) -> np.ndarray:
    """The hard answers a submission of target ``kind`` writes for ``probs``, with the run's fitted
    ``decisions``: grade indices at the cuts (N,), ``k`` class indices best first (top-k, (N, k)),
    the labels over the thresholds (multi-label, (N, C) bool), else the arg-max class (N,)."""
    probs = np.asarray(probs, dtype=np.float64)
    if kind == "grade":
        return grades(probs, decisions.get("cuts"))
    if kind == "top-k":
        return top_k(probs, min(k, probs.shape[1]), decisions.get("new_index"), decisions.get("new_score"))
    if kind == "multi-label":
        return threshold(probs, decisions.get("thresholds", 0.5))
    return probs.argmax(axis=1)
