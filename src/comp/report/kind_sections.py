"""Sections of a run's page (:mod:`comp.report.page`) that depend on its target kind and metric:
the ROC curves of an AUC competition, a per-label table of several labels per image, and the
hard predictions a confusion matrix shows (a grade's at its fitted cut points)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import RocCurveDisplay, precision_recall_fscore_support, roc_auc_score  # noqa: E402

from comp.targets import decisions as decide  # noqa: E402

MAX_CURVES = 12  # more ROC curves than this on one figure cannot be told apart


def hard_predictions(kind: str, probs: np.ndarray, decisions: dict) -> np.ndarray:
    """The class each out-of-fold row is given: a grade at the fitted cut points, else the arg-max."""
    return decide.grades(probs, decisions.get("cuts")) if kind == "grade" else probs.argmax(1)


def roc_columns(kind: str, truth: np.ndarray, probs: np.ndarray, class_names: list[str]):
    """(name, 0/1 truth, score) of each column an AUC scores: the positive class of a binary
    target (the last class), or every class (one-hot of one class per row, or several labels)."""
    if truth.ndim == 1:
        truth = np.eye(probs.shape[1])[truth]
    columns = [probs.shape[1] - 1] if kind == "binary" else range(probs.shape[1])
    return [(class_names[c], truth[:, c], probs[:, c]) for c in columns]


def roc_figure(columns, title: str):
    """ROC curves of up to :data:`MAX_CURVES` columns (those with both outcomes), with their AUC."""
    fig, ax = plt.subplots(figsize=(6, 5))
    drawn = [(n, t, s) for n, t, s in columns if 0 < t.sum() < len(t)][:MAX_CURVES]
    for name, truth, score in drawn:
        RocCurveDisplay.from_predictions(truth, score, name=name, ax=ax)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(title=title)
    ax.legend(loc="lower right", fontsize=7)
    return fig


def per_label_rows(truth: np.ndarray, probs: np.ndarray, class_names: list[str], decisions: dict) -> list[list]:
    """One row per label: images holding it, AUC, the threshold, precision, recall and F1 there."""
    thresholds = decisions.get("thresholds", [0.5] * len(class_names))
    chosen = decide.threshold(probs, thresholds)
    precision, recall, f1, support = precision_recall_fscore_support(truth, chosen, zero_division=0)
    rows = []
    for c, name in enumerate(class_names):
        both = 0 < truth[:, c].sum() < len(truth)
        auc = float(roc_auc_score(truth[:, c], probs[:, c])) if both else "-"
        rows.append([name, int(support[c]), auc, float(thresholds[c]), float(precision[c]), float(recall[c]),
                     float(f1[c])])
    return rows


PER_LABEL_HEADERS = ["label", "images", "AUC", "threshold", "precision", "recall", "F1"]
