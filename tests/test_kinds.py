"""Target kinds (comp.targets.kinds): what training fits and metrics score for each kind, and the
folds each kind is drawn on (comp.data.folds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from comp.data.folds import make_folds
from comp.errors import CompError
from comp.targets import kinds


def test_each_kind_has_a_head():
    assert {k: kinds.head(k) for k in kinds.HEADS} == {
        "class": "softmax", "binary": "softmax", "class-probabilities": "softmax", "grade": "softmax",
        "top-k": "softmax", "multi-label": "sigmoid", "regression": "sigmoid"}


def test_class_labels_become_indices_and_an_unknown_label_is_named():
    labels = pd.Series(["dog", "cat", "dog"])
    assert kinds.encode("class", labels, ["cat", "dog"]).tolist() == [1, 0, 1]
    with pytest.raises(CompError, match=r"label 'cow' \(line 4\) is not one of the 2 classes"):
        kinds.encode("class", pd.Series(["dog", "cat", "cow"]), ["cat", "dog"])


def test_multi_label_cells_become_a_zero_one_matrix():
    labels = pd.Series(["scab rust", "", "healthy"])
    y = kinds.encode("multi-label", labels, ["healthy", "rust", "scab"])
    assert y.dtype == np.float32
    assert y.tolist() == [[0, 1, 1], [0, 0, 0], [1, 0, 0]]
    with pytest.raises(CompError, match="label 'mildew'"):
        kinds.encode("multi-label", pd.Series(["mildew"]), ["healthy", "rust"])


def test_regression_targets_are_scaled_to_the_unit_range_and_back():
    labels = pd.Series(["1", "50.5", "100"])
    y, scale = kinds.training_targets("regression", labels, ["Pawpularity"])
    assert scale == (1.0, 100.0)
    assert y.shape == (3, 1) and y[:, 0].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert kinds.decode_regression(y, scale).tolist() == pytest.approx([1.0, 50.5, 100.0])
    with pytest.raises(CompError, match=r"target 'n/a' \(line 3\) is not a number"):
        kinds.training_targets("regression", pd.Series(["1", "n/a"]), ["Pawpularity"])


def test_regression_strata_are_quantile_bins():
    values = np.linspace(0, 1, 100)[:, None]
    bins = kinds.strata("regression", values, bins=4)
    assert sorted(np.bincount(bins).tolist()) == [25, 25, 25, 25]
    assert (np.diff(bins) >= 0).all()  # bins rise with the value


def test_grouped_folds_keep_a_group_in_one_fold():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 5)
    labels = rng.integers(0, 2, len(groups))
    folds = make_folds(labels, 4, seed=0, groups=groups)
    for g in range(20):
        assert len(set(folds[groups == g])) == 1
    assert sorted(set(folds)) == [0, 1, 2, 3]


def test_too_few_groups_for_the_folds_is_one_line():
    with pytest.raises(CompError, match="data.group_column has 3 group"):
        make_folds(np.array([0, 1] * 3), 5, seed=0, groups=np.array([1, 1, 2, 2, 3, 3]))


def test_multi_label_folds_are_stratified_per_label():
    rng = np.random.default_rng(1)
    y = (rng.random((300, 4)) < [0.5, 0.2, 0.1, 0.05]).astype(np.float32)
    folds = make_folds(y, 3, seed=0)
    assert sorted(set(folds)) == [0, 1, 2]
    for label in range(4):  # each fold holds about a third of each label's positives
        counts = np.array([y[folds == k, label].sum() for k in range(3)])
        assert counts.max() - counts.min() <= 2, (label, counts)


def test_a_multi_label_hold_out_split_validates_one_part():
    y = (np.random.default_rng(2).random((100, 3)) < 0.3).astype(np.float32)
    folds = make_folds(y, 1, seed=0, val_fraction=0.25)
    assert set(folds) == {-1, 0}
    assert (folds == 0).sum() == 25
