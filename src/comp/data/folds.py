"""Stratified fold assignment (scikit-learn), persisted with the run as folds.csv.

``k >= 2``: StratifiedKFold, every row gets a validation fold in [0, k).
``k == 1``: one stratified hold-out split; the held-out rows get fold 0, the rest -1
(train only), so "rows with fold == f are fold f's validation set" holds for both.

What is stratified: the class index (a regression's quantile bin: :func:`comp.targets.kinds.strata`).
A multi-label matrix (rows x labels) is stratified iteratively (Sechidis et al. 2011, the
``iterative-stratification`` package's MultilabelStratifiedKFold). With groups
(``data.group_column``, a patient id), a group's rows share one fold: StratifiedGroupKFold.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, StratifiedShuffleSplit

from comp.data.stream import Rows
from comp.errors import CompError


def make_folds(labels: np.ndarray, n_folds: int, seed: int, val_fraction: float = 0.2,
               groups: np.ndarray | None = None) -> np.ndarray:
    """Fold index per row: the fold whose validation set holds it (-1: never validated).
    ``labels``: class indices, or a multi-label 0/1 matrix; ``groups``: rows that share a fold.

    >>> make_folds(np.array([0, 0, 1, 1]), 2, seed=0).tolist()
    [1, 0, 0, 1]
    """
    labels = np.asarray(labels)
    n = len(labels)
    if n_folds < 1:
        raise CompError(f"--folds must be 1 or more. Received: --folds={n_folds}")
    if n_folds > n:
        raise CompError(f"--folds {n_folds} is more than the {n} training images")
    if labels.ndim == 2 or groups is not None:
        return _special_folds(labels, n_folds, seed, val_fraction, groups)
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    if n_folds >= 2:
        if counts.max() < n_folds:
            raise CompError(f"--folds {n_folds}: every class has fewer than {n_folds} images "
                            f"(largest class: {counts.max()}); use fewer folds")
        if counts.min() < n_folds:
            warnings.warn(f"the smallest class has {counts.min()} image(s), fewer than --folds {n_folds}: "
                          f"some folds will not validate it", stacklevel=2)
        folds = np.empty(n, dtype=np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # warned above, in our words
            splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            for fold, (_, val) in enumerate(splitter.split(np.zeros(n), labels)):
                folds[val] = fold
        return folds
    if not 0 < val_fraction < 1:
        raise CompError(f"--val-fraction must be between 0 and 1. Received: --val-fraction={val_fraction}")
    n_val = int(round(n * val_fraction))
    if n_val < len(counts) or n - n_val < len(counts):
        raise CompError(f"--val-fraction {val_fraction}: {n_val} validation image(s) cannot hold one of "
                        f"each of the {len(counts)} classes; use a larger fraction or more data")
    if counts.min() < 2:
        raise CompError("a class has a single image: a stratified hold-out split needs at least 2 per class")
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    _, val = next(splitter.split(np.zeros(n), labels))
    folds = np.full(n, -1, dtype=np.int64)
    folds[val] = 0
    return folds


def _special_folds(labels: np.ndarray, n_folds: int, seed: int, val_fraction: float,
                   groups: np.ndarray | None) -> np.ndarray:
    """Folds of a multi-label matrix (iterative stratification) or of grouped rows (a group's
    rows in one fold; stratified on the class, or on a multi-label row's first label)."""
    n = len(labels)
    splits = n_folds if n_folds >= 2 else max(2, int(round(1 / val_fraction)))
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < splits:
            raise CompError(f"--folds {n_folds}: data.group_column has {n_groups} group(s); every fold needs "
                            f"one: use fewer folds or no group column")
        strata = labels.argmax(1) if labels.ndim == 2 else labels
        splitter = StratifiedGroupKFold(n_splits=splits, shuffle=True, random_state=seed)
        parts = splitter.split(np.zeros(n), strata, groups)
    else:
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        parts = MultilabelStratifiedKFold(n_splits=splits, shuffle=True, random_state=seed).split(np.zeros(n), labels)
    folds = np.full(n, -1, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class with fewer rows than folds: fine here
        for fold, (_, val) in enumerate(parts):
            if n_folds >= 2:
                folds[val] = fold
            else:  # a hold-out split: the first of 1 / val_fraction parts validates
                folds[val] = 0
                break
    return folds


@dataclass
class FoldData:
    """One fold's images (uint8, N x H x W x 3) and integer labels, and what scoring needs."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None
    num_classes: int
    metric: str
    test_key: str | None = None  # comp.data.images.test_key of x_test: saved with test.npy
    # with teachers (comp.train.teacher): y_train holds float targets (rows x classes), the last
    # n_pseudo rows of x_train are pseudo-labelled test images, weights their loss weights (None: all 1)
    weights: np.ndarray | None = None
    n_pseudo: int = 0
    kind: str = "class"  # the target kind (comp.targets.kinds): y holds class indices or a float matrix
    scale: tuple[float, float] | None = None  # a regression's target range (y holds the scaled number)


def split_fold(fold_of_row: np.ndarray, k: int, images: np.ndarray, labels: np.ndarray,
               test_images: np.ndarray | None, num_classes: int, metric: str, where: str,
               test_key: str | None = None, stream: bool = False, kind: str = "class",
               scale: tuple[float, float] | None = None) -> FoldData:
    """Fold ``k``: its validation rows (``fold_of_row == k``) against the rest.

    ``stream``: the images stay where they are (the memory-mapped cache) and the fold holds
    :class:`~comp.data.stream.Rows` of it; else boolean-mask reads pull the fold's rows out of
    the cache into memory in one pass.
    """
    val = np.asarray(fold_of_row) == k
    if not val.any():
        raise CompError(f"{where}: fold {k} has no validation rows")
    if len(val) != len(images) or len(val) != len(labels):
        raise CompError(f"{where}: {len(val)} rows, but the data has {len(images)} images and {len(labels)} labels")
    if stream:
        x_train, x_val = Rows(images, np.flatnonzero(~val)), Rows(images, np.flatnonzero(val))
    else:
        x_train, x_val = np.asarray(images[~val]), np.asarray(images[val])
        test_images = None if test_images is None else np.asarray(test_images)
    return FoldData(x_train, labels[~val], x_val, labels[val], test_images, num_classes, metric, test_key,
                    kind=kind, scale=scale)
