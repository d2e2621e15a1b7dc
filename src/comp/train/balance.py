"""Imbalanced classes (``train.class_balance``).

``weights``: balanced class weights, ``n_rows / (n_classes * count(class))`` (scikit-learn's
``compute_class_weight("balanced")``), as per-sample loss weights; mixup and cutmix mix them as
they mix the targets, and they multiply a pseudo-labelled row's own weight
(:mod:`comp.train.teacher`).

``sampling``: each epoch draws its rows, with replacement, with probability proportional to 1 /
their class's count, so every class is drawn about equally often. The draw is stateless, a
function of (seed, epoch) like :func:`comp.train.pipeline.epoch_order`: a resumed fold sees the
batches it would have seen.

A row's class is its label, or the arg-max of its target row (a teacher's soft targets).
"""

from __future__ import annotations

import numpy as np

from comp.tf_quiet import tf

MODES = ("none", "weights", "sampling")


def row_classes(y: np.ndarray) -> np.ndarray:
    """Each training row's class: its label, or the arg-max of its float target row."""
    y = np.asarray(y)
    return y.argmax(1) if y.ndim == 2 else y.astype(np.int64)


def class_weights(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Balanced weight of each class (1 for a class with no rows: no row carries it)."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = row_classes(y)
    present = np.unique(classes)
    out = np.ones(num_classes, dtype=np.float64)
    out[present] = compute_class_weight("balanced", classes=present, y=classes)
    return out


def sample_weights(mode: str, y: np.ndarray, num_classes: int, weights: np.ndarray | None) -> np.ndarray | None:
    """The rows' loss weights: ``weights`` (None: all 1) times their class weight under ``weights`` mode."""
    if mode != "weights":
        return weights
    balanced = class_weights(y, num_classes)[row_classes(y)]
    return (balanced if weights is None else balanced * np.asarray(weights, dtype=np.float64)).astype(np.float32)


def sampling_cdf(y: np.ndarray) -> np.ndarray:
    """The cumulative draw probabilities of the rows, each proportional to 1 / its class's count."""
    classes = row_classes(y)
    counts = np.bincount(classes)
    p = 1.0 / counts[classes]
    return np.cumsum(p / p.sum())


def sampled_order(seed: int, epoch, cdf) -> tf.Tensor:
    """``len(cdf)`` rows drawn for ``epoch``, a function of (seed, epoch) only (inverse CDF of
    stateless uniforms; the seed pair differs from the plain order's)."""
    n = tf.shape(cdf)[0]
    pair = tf.stack([tf.cast(seed, tf.int64) + 0x5A3C, tf.cast(epoch, tf.int64)])
    u = tf.random.stateless_uniform([n], pair, dtype=tf.float64)
    return tf.minimum(tf.searchsorted(cdf, u, side="right", out_type=tf.int32), n - 1)
