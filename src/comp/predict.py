"""Prediction: test-time augmentation, fold models, fold and run ensembles.

TTA levels are ordered lists of tiny view functions (as in cifar10-airbench): a level's
prediction is the weighted mean of the softmax over its views.

- ``none``: the image as is.
- ``flip``: the image and its mirror (the largest single TTA effect on CIFAR-10).
- ``flip-shift``: those two (weight 1/4 each) plus each of them shifted by one pixel
  down-right and up-left with mirrored borders (1/8 each).

Example::

    probs = predict_proba(model, uint8_images, "flip")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from comp.errors import CompError
from comp.spec import unknown_name_error


def _views():
    from comp.tf_quiet import tf

    def identity(x):
        return x

    def flip(x):
        return tf.reverse(x, axis=[2])

    def shift(dy, dx):
        # mirrored borders, as the training translation of the `fast` recipe (and airbench's
        # TTA): a zero border is a pattern no training image had
        def view(x):
            h, w = x.shape[1], x.shape[2]
            padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
            return padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w, :]
        return view

    def flipped(view):
        def view_of_mirror(x):
            return view(flip(x))
        return view_of_mirror

    down_right, up_left = shift(1, 1), shift(-1, -1)
    # (view, weight): flip-shift gives the unshifted pair half the weight (airbench's tta_level 2)
    return {
        "none": [(identity, 1.0)],
        "flip": [(identity, 0.5), (flip, 0.5)],
        "flip-shift": [(identity, 0.25), (flip, 0.25), (down_right, 0.125), (up_left, 0.125),
                       (flipped(down_right), 0.125), (flipped(up_left), 0.125)],
    }


TTA_LEVELS = ("none", "flip", "flip-shift")


def check_tta(level: str) -> str:
    if level not in TTA_LEVELS:
        raise unknown_name_error("TTA level", level, list(TTA_LEVELS))
    return level


def tta_views(level: str) -> list:
    """The (view function, weight) pairs of a TTA level; the weights sum to 1."""
    return _views()[check_tta(level)]


def predict_proba(model, images: np.ndarray, tta: str = "none", batch_size: int = 512) -> np.ndarray:
    """Class probabilities (N, C) for uint8 images (N, H, W, 3): the weighted mean over the TTA views."""
    from comp.tf_quiet import tf

    total = None
    for view, weight in tta_views(tta):
        ds = (tf.data.Dataset.from_tensor_slices(np.asarray(images))
              .batch(batch_size)
              .map(lambda x, v=view: v(tf.cast(x, tf.float32)), num_parallel_calls=tf.data.AUTOTUNE)
              .prefetch(tf.data.AUTOTUNE))
        logits = model.predict(ds, verbose=0)
        probs = weight * tf.nn.softmax(tf.cast(logits, tf.float32)).numpy()
        total = probs if total is None else total + probs
    return total


def load_model(path: Path):
    from comp.tf_quiet import keras

    import comp.train  # noqa: F401  (registers the custom objects a saved model refers to)

    if not path.is_file():
        raise CompError(f"{path}: model file not found (is the fold finished?)")
    return keras.saving.load_model(path, compile=False)


def fold_test_probs(run, fold: int, tta: str, test_images) -> np.ndarray:
    """One fold's test probabilities at TTA level ``tta``: saved at training time, else recomputed."""
    import json

    fold_dir = run.fold_dir(fold)
    saved = json.loads((fold_dir / "metrics.json").read_text())
    if saved.get("tta") == tta and (fold_dir / "test.npy").is_file():
        return np.load(fold_dir / "test.npy")
    model = load_model(fold_dir / "model.keras")
    return predict_proba(model, test_images(), tta, run.recipe.predict.batch_size)


def run_oof(run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row indices, integer labels, OOF probabilities) of every validated row of finished folds."""
    table = run.fold_table()
    classes = {c: i for i, c in enumerate(run.class_names)}
    rows, probs = [], []
    for k in run.finished_folds():
        idx = np.flatnonzero(table["fold"].to_numpy() == k)
        rows.append(idx)
        probs.append(np.load(run.fold_dir(k) / "oof.npy"))
    if not rows:
        raise CompError(f"{run.dir}: no finished folds")
    rows = np.concatenate(rows)
    labels = table["label"].map(classes).to_numpy()[rows]
    return rows, labels, np.concatenate(probs)


def _oof_score(run, metric: str) -> tuple[float, int]:
    """A run's out-of-fold score and the rows it covers; a partial run (``--allow-partial``) has
    no run-level metrics yet, so its finished folds are scored."""
    from comp import metrics

    m = run.metrics() or {}
    if "oof_score" in m:  # a finished run: summarised when its last fold ended
        return m["oof_score"], m.get("oof_rows", 0)
    rows, labels, probs = run_oof(run)
    return metrics.score(metric, labels, probs), len(rows)


def predict_submission(comp, run_ids: list[str], ensemble: bool, tta: bool, tta_level: str | None,
                       allow_partial: bool, out: Path | None, say, weights: str = "equal") -> tuple[Path, dict]:
    """Everything ``comp predict`` does: checks first, then probabilities, CSV and manifest.

    ``weights``: how the runs are blended, ``equal`` or ``oof`` (fitted on their out-of-fold
    predictions by :mod:`comp.blend`).
    """
    import comp as toolkit
    from comp.data.demo import ensure_data
    from comp.data.layouts import read_dataset
    from comp.runs import latest_run, open_run
    from comp.submission import (check_rules, default_path, make_frame, score_csv, validate_frame,
                                 write_submission)

    runs = [open_run(comp.name, r) for r in run_ids] or [latest_run(comp.name)]
    rule_check = check_rules(comp, runs)  # before any work: a forbidden run never gets near a CSV
    ensure_data(comp)
    dataset = read_dataset(comp)
    for run in runs:
        finished = run.finished_folds()
        if not finished:
            raise CompError(f"run '{run.id}' has no finished folds; train it first")
        if ensemble and len(finished) < run.folds and not allow_partial:
            raise CompError(f"run '{run.id}' has {len(finished)} of {run.folds} folds finished; "
                            f"--ensemble needs all of them (finish training, or pass --allow-partial)")
        if run.class_names != dataset.class_names:
            raise CompError(f"run '{run.id}': its class map {run.class_names[:5]}... differs from the "
                            f"data's {dataset.class_names[:5]}...; predictions would be mislabelled")
    if weights not in ("equal", "oof"):
        raise CompError(f"weights must be 'equal' or 'oof'. Received: weights={weights!r}")
    blended = None
    if weights == "oof":  # fitted (and the folds checked) before any test prediction is made
        from comp.blend import fit_oof_blend

        blended = fit_oof_blend(runs, comp.metric)
        for line in blended.lines():
            say(line)
    run_weights = blended.weights if blended else [1.0 / len(runs)] * len(runs)
    level = "none" if not tta else (tta_level or (runs[0].recipe.predict.tta
                                                  if runs[0].recipe.predict.tta != "none" else "flip"))
    cache: dict = {}

    def test_images():
        if "x" not in cache:
            from comp.train import load_images_for

            cache["x"] = load_images_for(comp, dataset)[1]
        return cache["x"]

    run_probs, used = [], []
    for run in runs:
        finished = run.finished_folds()
        folds = finished if ensemble else [_best_fold(run, finished)]
        probs = [fold_test_probs(run, k, level, test_images) for k in folds]
        if any(p.shape[0] != len(dataset.test) for p in probs):
            raise CompError(f"run '{run.id}': its test predictions have {probs[0].shape[0]} rows but the "
                            f"competition has {len(dataset.test)} test images; retrain the run")
        run_probs.append(np.mean(probs, axis=0))
        oof_score, oof_rows = _oof_score(run, comp.metric)
        used.append({"run": run.id, "recipe": run.config["run"]["recipe"], "folds": folds,
                     "fold_models": len(folds), "total_folds": run.folds,
                     "oof_score": oof_score, "pretrained": run.config["run"].get("pretrained", False)})
        partial = f" (the {oof_rows} rows of folds {finished})" if len(finished) < run.folds else ""
        say(f"run {run.id}: {len(folds)} fold model(s) {folds}, TTA {level}, OOF {comp.metric} {oof_score:.4f}{partial}")
    probs = np.tensordot(np.asarray(run_weights), np.stack(run_probs), axes=1)
    frame = make_frame(comp, list(dataset.test["id"]), probs, dataset.class_names)
    path = out or default_path(comp, [r.id for r in runs])
    validate_frame(frame, comp, dataset.class_names, str(path), list(dataset.test["id"]))
    manifest = {
        "competition": comp.name, "created_by": f"comp {toolkit.__version__}", "runs": used,
        "ensemble": "mean of fold probabilities" if ensemble else "best fold",
        "weights": [float(w) for w in run_weights], "weights_mode": weights, "tta": level, "metric": comp.metric,
        "rule_check": rule_check,
    }
    if blended is not None:
        manifest["blend"] = blended.manifest()
    write_submission(frame, path, manifest)
    say(f"wrote {path} ({len(frame)} rows; validated against "
        f"{comp.path('sample_submission') or 'the test list'})")
    answers = comp.path("answers")
    if answers is not None and answers.is_file():
        say(f"test {comp.metric} against {answers}: {score_csv(path, answers, comp):.4f}")
    return path, manifest


def _best_fold(run, finished: list[int]) -> int:
    import json

    from comp import metrics

    scores = {k: json.loads((run.fold_dir(k) / "metrics.json").read_text())["score"] for k in finished}
    pick = max if metrics.higher_is_better(run.competition.metric) else min
    return pick(scores, key=scores.get)
