"""Cross-run blends with weights fitted on out-of-fold predictions (``comp predict --weights oof``).

Every run keeps the probabilities its fold models gave their validation rows (``oof.npy``).
For runs trained on the same folds those rows line up, so blend weights can be fitted where
no model saw the labels, and the blend's out-of-fold score compared with each run's.

The weights minimise the blend's log loss over the simplex (w >= 0, sum w = 1). The loss
only depends on each run's probability of the true class, q[n, i] (for several labels, of each
(row, label) cell's 0 or 1: the mean binary log loss over the columns), and
``-mean(log(q @ w))`` is exactly the likelihood of mixture weights, so the EM update
``w_i <- w_i * mean_n(q[n, i] / (q @ w)[n])`` (Dempster, Laird & Rubin 1977) fits them: it stays
on the simplex, never raises the loss and needs no step size. Where the optimum leaves a run
out (a weight of 0 on the simplex's edge) EM only crawls there, shrinking that weight by a
factor just under 1 per step; scipy's SLSQP, started from EM's weights with the bounds and the
sum as constraints, then finishes the fit (kept only where it lowers the loss).

Log loss is convex in w, so its optimum is never worse than any single run on log loss. On
accuracy or macro F1 it can be, on a small validation set: the fitted weights are then
compared with each run alone, and the best out-of-fold candidate is kept (and said so). That
comparison decides at arg-max or 0.5; the submission then fits its decisions (cut points,
thresholds) on the blend's out-of-fold predictions. A regression has no log loss: refused.

Example::

    result = fit_oof_blend(runs, "accuracy")
    probs = blend([run_test_probs_a, run_test_probs_b], result.weights)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from comp import metrics
from comp.errors import CompError

EPS = 1e-7  # probabilities are clipped here, as comp.metrics clips them for the log loss


def blend(probs: list[np.ndarray], weights) -> np.ndarray:
    """The weighted sum of several (N, C) probability arrays."""
    return np.tensordot(np.asarray(weights, dtype=np.float64), np.stack(probs).astype(np.float64), axes=1)


def fit_weights(probs: list[np.ndarray], labels: np.ndarray, max_iter: int = 2000, tol: float = 1e-10) -> np.ndarray:
    """Simplex weights minimising the log loss of ``blend(probs, w)`` on ``labels`` (EM, then
    SLSQP where the optimum is on the simplex's edge: see module doc).

    >>> fit_weights([good, noise], y)  # doctest: +SKIP
    array([0.97, 0.03])
    """
    q = np.stack([np.clip(truth_probability(p, labels), EPS, 1.0) for p in probs], axis=1)
    w = np.full(q.shape[1], 1.0 / q.shape[1])
    loss = -np.mean(np.log(q @ w))
    for _ in range(max_iter):
        w = w * np.mean(q / (q @ w)[:, None], axis=0)
        w = w / w.sum()  # exact already; this only removes rounding drift
        new_loss = -np.mean(np.log(q @ w))
        if loss - new_loss < tol:
            break
        loss = new_loss
    return _polished(q, w)


def _polished(q: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``start`` moved to the exact optimum by SLSQP (bounds and the sum held as constraints),
    kept only where that lowers the loss. EM shrinks the weight of a run the optimum leaves out
    by a factor just under 1 per step, so it stops with some weight still on it."""
    from scipy.optimize import minimize  # imported on use, as comp.metrics imports scikit-learn

    def loss_and_gradient(w):
        mixed = np.maximum(q @ w, EPS)
        return -np.mean(np.log(mixed)), -np.mean(q / mixed[:, None], axis=0)

    found = minimize(loss_and_gradient, start, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * len(start),
                     constraints={"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)},
                     options={"ftol": 1e-12, "maxiter": 500})  # its default 1e-6 stops at EM's start
    polished = np.clip(found.x, 0.0, None)
    polished = polished / polished.sum() if polished.sum() > 0 else start
    return polished if loss_and_gradient(polished)[0] < loss_and_gradient(start)[0] else start


def truth_probability(probs, labels) -> np.ndarray:
    """What a run gave the truth, one value per decision: the true class's probability (class
    indices, one softmax per row), or, for a 0/1 matrix of several labels, each (row, label)
    cell's probability of its 0 or 1, flattened. The blend's log loss is the mean negative log of
    these under the weights, so the same EM fits both."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if labels.ndim == 1:
        return probs[np.arange(len(labels)), labels]
    return np.where(labels == 1, probs, 1.0 - probs).ravel()


@dataclass
class BlendResult:
    weights: list[float]
    run_ids: list[str]
    metric: str
    rows: int  # out-of-fold rows every run predicted
    run_scores: list[float]  # each run alone, on those rows, in the competition's metric
    run_log_losses: list[float]
    score: float  # the blend's out-of-fold score
    log_loss: float
    note: str = ""  # why the fitted weights were not kept, if they were not
    fitted: list[float] = field(default_factory=list)  # the log-loss optimum, before that check

    def lines(self) -> list[str]:
        out = [f"OOF blend weights fitted on {self.rows} out-of-fold rows (log loss, EM):"]
        for rid, w, s, ll in zip(self.run_ids, self.weights, self.run_scores, self.run_log_losses):
            out.append(f"  run {rid}: weight {w:.3f} | OOF {self.metric} {s:.4f}, log loss {ll:.4f}")
        out.append(f"  blend: OOF {self.metric} {self.score:.4f}, log loss {self.log_loss:.4f}")
        if self.note:
            out.append(f"  {self.note}")
        return out

    def manifest(self) -> dict:
        return {"method": "out-of-fold log loss, EM on the simplex", "oof_rows": self.rows,
                "metric": self.metric, "oof_score": self.score, "oof_log_loss": self.log_loss,
                "runs": [{"run": r, "weight": w, "oof_score": s, "oof_log_loss": ll}
                         for r, w, s, ll in zip(self.run_ids, self.weights, self.run_scores, self.run_log_losses)],
                **({"note": self.note, "fitted_weights": self.fitted} if self.note else {})}


def choose_weights(probs: list[np.ndarray], labels: np.ndarray, metric: str, run_ids: list[str]) -> BlendResult:
    """Fit the weights, then keep them unless a run alone scores better out-of-fold on ``metric``."""
    fitted = fit_weights(probs, labels)
    higher = metrics.higher_is_better(metric)

    def evaluate(w):
        blended = blend(probs, w)
        return metrics.score(metric, labels, blended), metrics.score("log_loss", labels, blended)

    best = ("fitted", fitted, *evaluate(fitted))
    singles = [(rid, np.eye(len(probs))[i], *evaluate(np.eye(len(probs))[i])) for i, rid in enumerate(run_ids)]
    # The best run alone: on the metric, then on log loss. It replaces the fitted weights only
    # when strictly better on the metric (on log loss the fitted weights are never worse).
    top = sorted(singles, key=lambda c: ((-c[2] if higher else c[2]), c[3]))[0]
    note = ""
    if (top[2] > best[2]) if higher else (top[2] < best[2]):
        best = top
        note = f"the log-loss optimum scored lower on {metric} out-of-fold than run {top[0]} alone: that run is kept"
    return BlendResult(weights=[float(x) for x in best[1]], run_ids=list(run_ids), metric=metric, rows=len(labels),
                       run_scores=[s[2] for s in singles], run_log_losses=[s[3] for s in singles],
                       score=best[2], log_loss=best[3], note=note, fitted=[float(x) for x in fitted])


def check_same_folds(runs) -> None:
    """Refuse runs whose folds.csv differ: their out-of-fold rows would not line up."""
    first = runs[0]
    base = first.fold_table()
    for run in runs[1:]:
        other = run.fold_table()
        detail = _fold_difference(base, other)
        if detail:
            raise CompError(f"runs '{first.id}' and '{run.id}' were made on different folds "
                            f"({first.dir}/folds.csv and {run.dir}/folds.csv: {detail}); --weights oof needs "
                            f"every run on the same folds (same --folds, --val-fraction and train.seed); "
                            f"blend them with --weights equal instead")


def _fold_difference(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if len(a) != len(b) or list(a["id"]) != list(b["id"]):
        return f"{len(a)} and {len(b)} rows, or other ids"
    if list(a["label"]) != list(b["label"]):
        return "the labels differ"
    folds_a, folds_b = a["fold"].to_numpy(), b["fold"].to_numpy()
    if folds_a.max() != folds_b.max():
        return f"{folds_a.max() + 1} and {folds_b.max() + 1} folds"
    moved = int((folds_a != folds_b).sum())
    return f"{moved} rows in another fold" if moved else ""


def common_oof(runs) -> tuple[list[np.ndarray], np.ndarray]:
    """Each run's out-of-fold predictions of the rows all of them validated, and those rows' truth."""
    check_same_folds(runs)
    oofs = [run.oof() for run in runs]
    common = set(oofs[0][0])
    for rows, _, _ in oofs[1:]:
        common &= set(rows)
    if not common:
        raise CompError(f"runs {', '.join(r.id for r in runs)} have no finished fold in common; "
                        f"--weights oof needs out-of-fold predictions of the same rows")
    order = np.array(sorted(common))
    probs, labels = [], None
    for rows, run_labels, run_probs in oofs:
        position = {r: i for i, r in enumerate(rows)}
        take = np.array([position[r] for r in order])
        probs.append(run_probs[take])
        labels = run_labels[take]
    return probs, labels


def oof_blend(runs, weights) -> tuple[np.ndarray, np.ndarray]:
    """(truth, blended out-of-fold predictions) of the rows every run validated."""
    probs, truth = common_oof(runs)
    return truth, blend(probs, weights)


def fit_oof_blend(runs, metric: str) -> BlendResult:
    """Blend weights for ``runs`` from their out-of-fold predictions on the folds all of them finished."""
    if runs[0].competition.target.kind == "regression":
        raise CompError(f"--weights oof fits weights on the log loss of class probabilities or labels; "
                        f"{runs[0].competition.name}'s target kind (regression) has none: blend with --weights equal")
    probs, labels = common_oof(runs)
    return choose_weights(probs, labels, metric, [r.id for r in runs])
