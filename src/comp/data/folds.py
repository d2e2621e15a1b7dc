"""Stratified fold assignment (scikit-learn), persisted with the run as folds.csv.

``k >= 2``: StratifiedKFold, every row gets a validation fold in [0, k).
``k == 1``: one stratified hold-out split; the held-out rows get fold 0, the rest -1
(train only), so "rows with fold == f are fold f's validation set" holds for both.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from comp.errors import CompError


def make_folds(labels: np.ndarray, k: int, seed: int, val_fraction: float = 0.2) -> np.ndarray:
    """Fold index per row: the fold whose validation set holds it (-1: never validated).

    >>> make_folds(np.array([0, 0, 1, 1]), 2, seed=0).tolist()
    [1, 0, 0, 1]
    """
    labels = np.asarray(labels)
    n = len(labels)
    if k < 1:
        raise CompError(f"--folds must be 1 or more. Received: --folds={k}")
    if k > n:
        raise CompError(f"--folds {k} is more than the {n} training images")
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    if k >= 2:
        if counts.max() < k:
            raise CompError(f"--folds {k}: every class has fewer than {k} images "
                            f"(largest class: {counts.max()}); use fewer folds")
        if counts.min() < k:
            warnings.warn(f"the smallest class has {counts.min()} image(s), fewer than --folds {k}: "
                          f"some folds will not validate it", stacklevel=2)
        folds = np.empty(n, dtype=np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # warned above, in our words
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
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
