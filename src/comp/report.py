"""Plots and tables: learning curves per fold, confusion matrix of the OOF predictions,
and the fold table printed at the end of training.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from comp.atomic import atomic_path  # noqa: E402


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip("."))
    plt.close(fig)


def plot_curves(run, path: Path) -> None:
    """Loss and accuracy per epoch, train (dashed) and validation (solid), one colour per fold."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for k in run.finished_folds():
        hist_path = run.fold_dir(k) / "history.csv"
        if not hist_path.is_file():
            continue
        hist = pd.read_csv(hist_path)
        epoch = hist["epoch"] + 1
        color = f"C{k % 10}"
        ax_loss.plot(epoch, hist["loss"], "--", color=color, alpha=0.6)
        ax_loss.plot(epoch, hist["val_loss"], "-", color=color, label=f"fold {k}")
        ax_acc.plot(epoch, hist["accuracy"], "--", color=color, alpha=0.6)
        ax_acc.plot(epoch, hist["val_accuracy"], "-", color=color, label=f"fold {k}")
    ax_loss.set(title="loss (dashed: train, solid: validation)", xlabel="epoch")
    ax_acc.set(title="accuracy (train is on augmented/mixed batches)", xlabel="epoch")
    ax_acc.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{run.config['run']['competition']} / {run.id}")
    _save(fig, path)


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], path: Path) -> None:
    """Row-normalised confusion matrix of the out-of-fold predictions."""
    n = len(class_names)
    size = min(4 + 0.45 * n, 24)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=np.arange(n), display_labels=class_names, normalize="true",
        values_format=".2f", include_values=n <= 20, ax=ax, colorbar=False, xticks_rotation="vertical")
    ax.set_title("out-of-fold confusion (rows: true class, normalised)")
    _save(fig, path)


def fold_table(summary: dict) -> str:
    """The per-fold table with the out-of-fold row, as text."""
    rows = [{"fold": f["fold"], summary["metric"]: f["score"], "log_loss": f["log_loss"],
             "best_epoch": f"{f['best_epoch']}/{f['epochs']}", "s/epoch": f["epoch_seconds"],
             "seconds": f["seconds"]} for f in summary["per_fold"]]
    rows.append({"fold": "OOF", summary["metric"]: summary["oof_score"], "log_loss": summary["oof_log_loss"],
                 "best_epoch": "", "s/epoch": "", "seconds": summary["seconds"]})
    return pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}")
