"""comp.data.folds: stratified, seeded fold assignment; hold-out split; bad fold counts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from comp.data.folds import make_folds
from comp.errors import CompError

LABELS = np.repeat([0, 1, 2], [10, 7, 13])  # unequal classes, 30 rows


def test_every_row_gets_one_validation_fold():
    folds = make_folds(LABELS, 5, seed=0)
    assert folds.shape == LABELS.shape and folds.dtype == np.int64
    assert set(folds.tolist()) == set(range(5))
    assert np.bincount(folds).tolist() == [6, 6, 6, 6, 6]


def test_folds_are_stratified():
    folds = make_folds(LABELS, 5, seed=3)
    for cls in np.unique(LABELS):
        per_fold = np.bincount(folds[LABELS == cls], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1, (cls, per_fold)


def test_same_seed_gives_the_same_folds():
    np.testing.assert_array_equal(make_folds(LABELS, 4, seed=7), make_folds(LABELS, 4, seed=7))


def test_another_seed_gives_other_folds():
    assert not np.array_equal(make_folds(LABELS, 4, seed=7), make_folds(LABELS, 4, seed=8))


def test_holdout_uses_val_fraction_and_marks_the_rest_train_only():
    folds = make_folds(LABELS, 1, seed=0, val_fraction=0.3)
    assert set(folds.tolist()) == {-1, 0}
    assert (folds == 0).sum() == 9
    # stratified: every class is in the validation rows, roughly in proportion
    assert np.bincount(LABELS[folds == 0], minlength=3).tolist() == pytest.approx([3, 2, 4], abs=1)
    np.testing.assert_array_equal(folds, make_folds(LABELS, 1, seed=0, val_fraction=0.3))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_holdout_fraction_outside_0_1_is_an_error(fraction):
    with pytest.raises(CompError, match=rf"--val-fraction must be between 0 and 1\. "
                                        rf"Received: --val-fraction={fraction}"):
        make_folds(LABELS, 1, seed=0, val_fraction=fraction)


def test_holdout_too_small_for_one_of_each_class_is_an_error():
    with pytest.raises(CompError, match=r"--val-fraction 0\.05: 2 validation image\(s\) "
                                        r"cannot hold one of each of the 3 classes"):
        make_folds(LABELS, 1, seed=0, val_fraction=0.05)


@pytest.mark.parametrize("k", [0, -1])
def test_fewer_than_one_fold_is_an_error(k):
    with pytest.raises(CompError, match=rf"--folds must be 1 or more\. Received: --folds={k}"):
        make_folds(LABELS, k, seed=0)


def test_more_folds_than_rows_is_an_error():
    with pytest.raises(CompError, match=r"--folds 31 is more than the 30 training images"):
        make_folds(LABELS, 31, seed=0)


def test_small_class_warns_but_still_assigns_folds():
    labels = np.repeat([0, 1], [10, 2])
    with pytest.warns(UserWarning, match=r"the smallest class has 2 image\(s\), fewer than --folds 3"):
        folds = make_folds(labels, 3, seed=0)
    assert set(folds.tolist()) == {0, 1, 2}


def test_classes_at_least_as_large_as_k_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_folds(LABELS, 7, seed=0)


def test_every_class_smaller_than_k_is_an_error():
    labels = np.repeat([0, 1, 2], [2, 3, 2])
    with pytest.raises(CompError, match=r"--folds 4: every class has fewer than 4 images \(largest class: 3\)"):
        make_folds(labels, 4, seed=0)
