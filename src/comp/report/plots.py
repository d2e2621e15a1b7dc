"""Plots and tables: learning curves per fold, confusion matrix of the OOF predictions,
the fold table printed at the end of training, and the comparison table and chart of
``comp compare`` / ``comp sweep``.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from comp import metrics  # noqa: E402
from comp.files.atomic import atomic_path  # noqa: E402
from comp.runs.artefacts import HISTORY_ADVICE, read_history  # noqa: E402


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip("."))
    plt.close(fig)


def fold_history(run, k: int) -> pd.DataFrame | None:
    """Fold ``k``'s history.csv, checked (:func:`comp.runs.artefacts.read_history`; a finished fold's has
    the epochs of its metrics.json); None where there is none (a deleted one leaves the fold out)."""
    path = run.fold_dir(k) / "history.csv"
    if not path.is_file():
        return None
    epochs = run.fold_metrics(k)["epochs"] if run.fold_done(k) else None
    return read_history(path, HISTORY_ADVICE, epochs)


def plot_curves(run, path: Path) -> None:
    """Loss and accuracy per epoch, train (dashed) and validation (solid), one colour per fold."""
    histories = {k: fold_history(run, k) for k in run.finished_folds()}
    _save(curves_figure(run, {k: h for k, h in histories.items() if h is not None}), path)


def curves_figure(run, histories: dict, labels: dict[int, str] | None = None):
    """The figure of :func:`plot_curves` of ``histories`` (fold -> its history.csv, read by
    :func:`fold_history`); ``labels``: a legend entry per fold other than ``fold <k>``."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    name = curve_metric(run, histories)
    for k, hist in histories.items():
        epoch = hist["epoch"] + 1
        color, label = f"C{k % 10}", (labels or {}).get(k, f"fold {k}")
        ax_loss.plot(epoch, hist["loss"], "--", color=color, alpha=0.6)
        ax_loss.plot(epoch, hist["val_loss"], "-", color=color, label=label)
        if name in hist.columns:  # a metric Keras logs on the training batches too
            ax_acc.plot(epoch, hist[name], "--", color=color, alpha=0.6)
        if f"val_{name}" in hist.columns:
            ax_acc.plot(epoch, hist[f"val_{name}"], "-", color=color, label=label)
    ax_loss.set(title="loss (dashed: train, solid: validation)", xlabel="epoch")
    ax_acc.set(title=f"{name} (train is on augmented/mixed batches)", xlabel="epoch")
    ax_acc.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{run.competition_name} / {run.id}")
    return fig


def curve_metric(run, histories: dict) -> str:
    """The metric of the right-hand panel: accuracy where logged, else the competition's metric."""
    logged = set().union(*(h.columns for h in histories.values())) if histories else set()
    return "accuracy" if "val_accuracy" in logged else run.competition.metric


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], path: Path) -> None:
    """Row-normalised confusion matrix of the out-of-fold predictions."""
    _save(confusion_figure(y_true, y_pred, class_names), path)


def confusion_figure(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]):
    """The figure of :func:`plot_confusion`."""
    n = len(class_names)
    size = min(4 + 0.45 * n, 24)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=np.arange(n), display_labels=class_names, normalize="true",
        values_format=".2f", include_values=n <= 20, ax=ax, colorbar=False, xticks_rotation="vertical")
    ax.set_title("out-of-fold confusion (rows: true class, normalised)")
    return fig


def png_bytes(fig) -> bytes:
    """A figure as PNG bytes (closed afterwards): for pages that embed their figures."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return buffer.getvalue()


def fold_table(summary: dict) -> str:
    """The per-fold table with the out-of-fold row, as text."""
    rows = [{"fold": f["fold"], summary["metric"]: f["score"], "log_loss": f.get("log_loss"),
             "best_epoch": f"{f['best_epoch']}/{f['epochs']}", "s/epoch": f["epoch_seconds"],
             "seconds": f["seconds"]} for f in summary["per_fold"]]
    rows.append({"fold": "OOF", summary["metric"]: summary["oof_score"], "log_loss": summary.get("oof_log_loss"),
                 "best_epoch": "", "s/epoch": "", "seconds": summary["seconds"]})
    table = pd.DataFrame(rows)
    if table["log_loss"].isna().all():  # no softmax: no log loss
        table = table.drop(columns="log_loss")
    return table.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def _format(column: str, value) -> str:
    if isinstance(value, float):
        if column.startswith("oof_"):
            return f"{value:.4f}"
        return f"{value:.1f}"
    if column == "params":
        return f"{value:,}"
    return str(value)


def markdown_table(table: pd.DataFrame) -> str:
    """The table as GitHub Markdown (pandas' to_markdown needs tabulate, which comp does not depend on)."""
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for _, record in table.iterrows():
        lines.append("| " + " | ".join(_format(c, record[c]) for c in table.columns) + " |")
    return "\n".join(lines)


def plot_comparison(table: pd.DataFrame, metric: str, title: str, path: Path) -> None:
    """Horizontal bars, one per row: the out-of-fold metric, and training images per second."""
    column = "oof_log_loss" if metric == "log_loss" else f"oof_{metric}"
    labels = table["row"].tolist()[::-1]  # best at the top
    height = 1.2 + 0.4 * len(labels)
    fig, (ax_score, ax_speed) = plt.subplots(1, 2, figsize=(11, height), sharey=True)
    ax_score.barh(labels, table[column].tolist()[::-1], color="C0")
    ax_score.set(xlabel=f"out-of-fold {metric}", title=f"{metric} ({'higher' if metrics.higher_is_better(metric) else 'lower'} is better)")
    for y, value in enumerate(table[column].tolist()[::-1]):
        ax_score.text(value, y, f" {value:.4f}", va="center", fontsize=8)
    ax_speed.barh(labels, table["images_per_second"].tolist()[::-1], color="C1")
    ax_speed.set(xlabel="training images / second", title="throughput")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
