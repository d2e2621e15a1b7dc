"""Prediction: class probabilities with test-time augmentation, from fold models, fold
ensembles and blends of runs.

The TTA levels and their views are in :mod:`comp.predict.tta`; turning probabilities into a checked
CSV is :mod:`comp.submit.submission`'s work.

Example::

    probs = predict_proba(model, uint8_images, "flip")
    probs = predict_proba(model, uint8_images, "flip-shift", share=0.25)  # extra views for the 25 % least sure
    probs, used = ensemble_test_probs(runs, "flip", True, [0.5, 0.5], n_test, load, test_key(competition, dataset))
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from comp import metrics
from comp.predict.blend import blend
from comp.data.stream import Rows, row_batches
from comp.errors import CompError
from comp.predict.tta import tta_views
from comp.runs.artefacts import TEST_ADVICE, read_probs, retrain_fold_advice
from comp.runs.decided import read_decisions
from comp.targets.decisions import answers
from comp.targets.kinds import head

PREDICT_KEYS = ("score",)  # what prediction needs of a fold's metrics.json (and tta, tta_share, crop, test_key where there)


def predict_proba(model, images: np.ndarray, tta: str = "none", batch_size: int = 512, crop: float = 1.0,
                  share: float = 1.0, activation: str = "softmax") -> np.ndarray:
    """Class probabilities (N, C) for uint8 images (N, H, W, 3): the weighted mean over the TTA views.

    ``activation``: ``softmax`` (one class per row) or ``sigmoid`` (independent columns: a
    multi-label or regression head, :mod:`comp.targets.kinds`) of the model's logits.
    ``images``: an array, a memory map or :class:`comp.data.stream.Rows`; ``crop``: every view sees
    the centre crop of that fraction of each side, resized back (``predict.crop``). ``share``
    (``predict.tta_share``): below 1, selective TTA: the level's first view (the plain image)
    predicts every image, its other views only the ``share`` of images the plain view is least
    sure of (:func:`unsure_rows`), which get the level's weighted mean; the rest keep the plain
    view's probabilities. 1: every image gets every view (the same computation as ever).
    """
    views = tta_views(tta, crop)
    if share >= 1 or len(views) == 1:
        return _weighted_views(model, images, views, batch_size, activation)
    (plain, weight), extra = views[0], views[1:]
    probs = _weighted_views(model, images, [(plain, 1.0)], batch_size, activation)
    rows = unsure_rows(probs, share, activation)
    if len(rows):  # the selected rows read on demand, in row order: the test set may not fit in memory
        probs[rows] = _weighted_views(model, Rows(images, rows), extra, batch_size, activation, weight * probs[rows])
    return probs


def _weighted_views(model, images, views, batch_size: int, activation: str = "softmax",
                    total: np.ndarray | None = None) -> np.ndarray:
    """``total`` (None: nothing) plus the weighted softmax (or sigmoid) of each (view, weight), added in order."""
    from comp.tf_quiet import plain_graph, tf

    squash = tf.nn.softmax if activation == "softmax" else tf.math.sigmoid
    for view, weight in views:
        ds = (row_batches(images, batch_size)  # a batch at a time: the test set may not fit in memory
              .map(plain_graph(lambda x, v=view: v(tf.cast(x, tf.float32))), num_parallel_calls=tf.data.AUTOTUNE)
              .prefetch(tf.data.AUTOTUNE))
        logits = model.predict(ds, verbose=0)
        probs = weight * squash(tf.cast(logits, tf.float32)).numpy()
        total = probs if total is None else total + probs
    return total


def unsure_count(n: int, share: float) -> int:
    """How many of ``n`` images selective TTA sends through the extra views: ceil(share x n)."""
    return min(n, math.ceil(round(share * n, 9)))  # 0.7 x 10 is 7, not 7.000000000000001


def unsure_rows(probs: np.ndarray, share: float, activation: str = "softmax") -> np.ndarray:
    """The rows, in row order, of the ``share`` of ``probs`` (:func:`unsure_count` of them) whose
    top probability is lowest (sigmoid columns: whose column nearest 0.5 is nearest); among equal
    ones the earlier rows (a stable sort)."""
    sureness = probs.max(axis=1) if activation == "softmax" else np.abs(probs - 0.5).min(axis=1)
    return np.sort(np.argsort(sureness, kind="stable")[:unsure_count(len(probs), share)])


def load_model(path: Path):
    """A fold's saved model, for inference (comp.models registers the custom layers it uses)."""
    from comp.tf_quiet import keras

    import comp.models  # noqa: F401  (registers the custom objects a saved model refers to)

    advice = retrain_fold_advice(path.parent)
    if not path.is_file():
        raise CompError(f"{path}: model file not found (is the fold finished?); {advice}")
    if not zipfile.is_zipfile(path):  # keras would say "file not found"
        raise CompError(f"{path}: not a .keras archive (truncated or damaged); {advice}")
    try:
        return keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:  # a member truncated or damaged
        reason = " ".join(str(e).split())[:100]
        raise CompError(f"{path}: the fold's model cannot be loaded ({type(e).__name__}: {reason}); {advice}") from None


def fold_test_probs(run, fold: int, tta: str, test_images, test_key: str | None,
                    n_test: int | None = None, share: float = 1.0) -> np.ndarray:
    """One fold's test probabilities at TTA level ``tta`` and share ``share`` (selective TTA,
    :func:`predict_proba`): saved at training time, else recomputed.

    The saved ones are reused only for the same TTA level and share (a fold saved before
    ``predict.tta_share`` existed holds share 1) and the same ``test_key`` (the test ids in
    submission order and the test files, :func:`comp.data.images.test_key`): rows reordered in
    sample_submission.csv, or other test images, are predicted again. ``test_images()`` returns
    the test images; it is called only when a model must predict. The saved ones are checked:
    ``n_test`` rows (None: any) of the run's classes, probabilities.
    """
    fold_dir, saved = run.fold_dir(fold), run.fold_metrics(fold, PREDICT_KEYS)
    crop, saved_probs = run.recipe.predict.crop, fold_dir / "test.npy"
    same_share = len(tta_views(tta)) == 1 or saved.get("tta_share", 1.0) == share  # one view: no share to apply
    if saved.get("tta") == tta and same_share and saved.get("crop", 1.0) == crop and test_key is not None \
            and saved.get("test_key") == test_key and saved_probs.is_file():
        return read_probs(saved_probs, n_test, len(run.class_names), TEST_ADVICE, "the competition has {} test images",
                          summed=run.softmax)
    model = load_model(fold_dir / "model.keras")
    return predict_proba(model, test_images(), tta, run.recipe.predict.batch_size, crop, share,
                         head(run.competition.target.kind))


def oof_score(run, metric: str) -> tuple[float, int]:
    """A run's out-of-fold score and the rows it covers: from its summary (metrics.json) where
    that covers every finished fold, else (a partial run, a fold that failed after the last
    summary) scored again from the finished folds' OOF predictions."""
    m = run.metrics() or {}
    if "oof_score" in m and m.get("finished_folds") == len(run.finished_folds()):
        return m["oof_score"], m.get("oof_rows", 0)
    rows, labels, probs = run.oof()
    return metrics.score(metric, labels, probs), len(rows)


def best_fold(run, finished: list[int]) -> int:
    """The finished fold with the best validation score in the competition's metric."""
    scores = [run.fold_metrics(k, PREDICT_KEYS)["score"] for k in finished]
    return finished[metrics.best_index(scores, run.competition.metric)]


def tta_level(runs, tta: bool, requested: str | None) -> str:
    """The TTA level a prediction uses: ``requested``, else the first run's, at least ``flip``."""
    if not tta:
        return "none"
    recipe_level = runs[0].recipe.predict.tta
    return requested or (recipe_level if recipe_level != "none" else "flip")


def tta_share(runs, level: str, requested: float | None) -> float:
    """The selective-TTA share a prediction at ``level`` uses: ``requested``, else the first run's
    ``predict.tta_share``; 1 for a level of one view (nothing to select for)."""
    share = runs[0].recipe.predict.tta_share if requested is None else float(requested)
    return 1.0 if len(tta_views(level)) == 1 else share


def share_note(level: str, share: float) -> str:
    """How a log line names a selective-TTA share: nothing for 1, or for a level of one view."""
    return "" if share >= 1 or len(tta_views(level)) == 1 else f" (extra views on the {share:g} least sure)"


def ensemble_test_probs(runs, level: str, ensemble: bool, weights: list[float], n_test: int, test_images,
                        test_key: str | None, say=lambda msg: None,
                        share: float = 1.0) -> tuple[np.ndarray, list[dict]]:
    """Each run's test probabilities (mean of its finished folds, or its best fold) at TTA level
    ``level`` and share ``share``, blended with ``weights``; returns (probabilities, one record
    per run for the manifest)."""
    run_probs, used = [], []
    for run in runs:
        finished = run.finished_folds()
        folds = finished if ensemble else [best_fold(run, finished)]
        probs = [fold_test_probs(run, k, level, test_images, test_key, n_test, share) for k in folds]
        if any(p.shape[0] != n_test for p in probs):
            raise CompError(f"run '{run.id}': its test predictions have {probs[0].shape[0]} rows but the "
                            f"competition has {n_test} test images; retrain the run")
        run_probs.append(np.mean(probs, axis=0))
        score, rows = oof_score(run, run.competition.metric)
        agreement = fold_agreement(probs, run_probs[-1], run.competition.target,
                                   read_decisions(run.dir, len(run.class_names)))
        used.append({"run": run.id, "recipe": run.recipe_name, "folds": folds,
                     "fold_models": len(folds), "total_folds": run.n_folds,
                     "oof_score": score, "pretrained": run.pretrained, "fold_agreement": agreement})
        partial = f" (the {rows} rows of folds {finished})" if len(finished) < run.n_folds else ""
        say(f"run {run.id}: {len(folds)} fold model(s) {folds}, TTA {level}{share_note(level, share)}, "
            f"OOF {run.competition.metric} {score:.4f}{partial}")
        if agreement is not None:
            for line in agreement_table(run, folds, agreement):
                say(line)
    return blend(run_probs, weights), used


def fold_agreement(fold_probs: list[np.ndarray], mean_probs: np.ndarray, target, decisions: dict) -> list[float] | None:
    """Each fold's share of test decisions that the mean of the folds makes too, both decided as
    the submission decides (:func:`comp.targets.decisions.answers` with the run's fitted
    ``decisions``): the same class, grade or first of the top-k labels; multi-label: each (row,
    label) a decision. None for a regression, or for fewer than two folds. What soft voting
    changes, readable without the test labels."""
    if len(fold_probs) < 2 or target.kind == "regression":
        return None

    def decided(probs: np.ndarray) -> np.ndarray:
        chosen = answers(target.kind, probs, decisions, target.k)
        return chosen[:, 0] if target.kind == "top-k" else chosen

    ensemble = decided(mean_probs)
    return [round(float(np.mean(decided(p) == ensemble)), 4) for p in fold_probs]


def agreement_table(run, folds: list[int], agreement: list[float]) -> list[str]:
    """Lines of a table: each fold's validation score and its agreement with the ensemble on
    the test images."""
    metric = run.competition.metric
    lines = [f"  fold  {'val ' + metric:>14}  test decisions shared with the ensemble"]
    for fold, share in zip(folds, agreement):
        lines.append(f"  {fold:>4}  {run.fold_metrics(fold, PREDICT_KEYS)['score']:>14.4f}  {share:>8.2%}")
    lines.append(f"  mean  {'':>14}  {float(np.mean(agreement)):>8.2%}")
    return lines
