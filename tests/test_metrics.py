"""comp.metrics: each metric against scikit-learn and a value worked out by hand (on class indices,
on a 0/1 label matrix, on numbers), the registry, the ranges of recorded scores, the direction each
is better in, the best epoch's position, the checkpoint monitor, the per-class F1 line.
Small arrays only: no model, no TensorFlow."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score, log_loss,
                             roc_auc_score)

from comp import metrics
from comp.config import spec

# 6 rows, 3 classes; the arg-max predicts [0, 1, 1, 1, 2, 0]: rows 1 and 5 wrong
Y = np.array([0, 0, 1, 1, 2, 2])
PROBS = np.array([
    [0.7, 0.2, 0.1],
    [0.3, 0.6, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.5, 0.3],
    [0.1, 0.1, 0.8],
    [0.5, 0.1, 0.4],
])


def test_the_registry_names_every_metric_with_its_direction_and_range():
    assert {name: higher for name, (_, higher) in metrics.METRICS.items()} == {
        "accuracy": True, "macro_f1": True, "micro_f1": True, "log_loss": False, "roc_auc": True,
        "mean_roc_auc": True, "qwk": True, "map_at_5": True, "rmse": False}
    assert metrics.RANGES == {
        "accuracy": (0, 1), "macro_f1": (0, 1), "micro_f1": (0, 1), "log_loss": (0, math.inf), "roc_auc": (0, 1),
        "mean_roc_auc": (0, 1), "qwk": (-1, 1), "map_at_5": (0, 1), "rmse": (0, math.inf)}
    assert spec.METRICS == tuple(metrics.METRICS)  # what a competition spec's metric may be


def test_a_metric_is_added_by_registering_one_function(monkeypatch):
    monkeypatch.setattr(metrics, "METRICS", dict(metrics.METRICS))  # the registry as it was, afterwards
    monkeypatch.setattr(metrics, "RANGES", dict(metrics.RANGES))

    @metrics.metric("balanced_accuracy")
    def _balanced(truth, probs, decisions):
        return balanced_accuracy_score(truth, probs.argmax(1))

    assert metrics.score("balanced_accuracy", Y, PROBS) == pytest.approx(balanced_accuracy_score(Y, PROBS.argmax(1)))
    assert metrics.higher_is_better("val_balanced_accuracy") is True
    assert metrics.range_problem("balanced_accuracy", 1.5) is not None


def test_accuracy_is_the_share_of_rows_whose_arg_max_is_the_label():
    assert metrics.score("accuracy", Y, PROBS) == pytest.approx(4 / 6)
    assert metrics.score("accuracy", Y, PROBS) == pytest.approx(accuracy_score(Y, PROBS.argmax(1)))
    assert metrics.score("accuracy", Y, np.eye(3)[Y]) == 1.0


def test_macro_f1_is_the_unweighted_mean_of_the_classes_f1():
    # class 0: 1 right of 2 predicted, 1 of 2 found: F1 1/2; class 1: 2 of 3 predicted, 2 of 2 found:
    # F1 2 * (2/3 * 1) / (2/3 + 1) = 4/5; class 2: 1 of 1 predicted, 1 of 2 found: F1 2/3
    by_hand = (1 / 2 + 4 / 5 + 2 / 3) / 3
    assert metrics.score("macro_f1", Y, PROBS) == pytest.approx(by_hand)
    assert metrics.score("macro_f1", Y, PROBS) == pytest.approx(f1_score(Y, PROBS.argmax(1), average="macro"))
    assert metrics.score("macro_f1", Y, PROBS) < metrics.score("accuracy", Y, PROBS)  # not the accuracy


def test_log_loss_is_the_mean_negative_log_probability_of_the_label():
    by_hand = -np.mean(np.log([0.7, 0.3, 0.8, 0.5, 0.8, 0.4]))
    assert metrics.score("log_loss", Y, PROBS) == pytest.approx(by_hand)
    assert metrics.score("log_loss", Y, PROBS) == pytest.approx(log_loss(Y, PROBS))


def test_probabilities_are_normalised_before_scoring():
    unnormalised = PROBS * np.array([[2.0], [1.0], [3.0], [0.5], [1.0], [10.0]])  # each row scaled
    assert metrics.score("log_loss", Y, unnormalised) == pytest.approx(metrics.score("log_loss", Y, PROBS))
    # a float32 softmax whose rows sum to 1 +- 1e-7 scores as its float64 normalisation
    softmax32 = (PROBS + 1e-7).astype(np.float32)
    assert metrics.score("log_loss", Y, softmax32) == pytest.approx(log_loss(Y, PROBS), abs=1e-6)


def test_log_loss_clips_a_zero_probability_at_float64_eps():
    probs = np.array([[0.0, 1.0], [0.5, 0.5]])  # row 0: no probability at all on its label
    clipped = (-math.log(np.finfo(np.float64).eps) - math.log(0.5)) / 2  # -log(2.2e-16) = 36.04
    assert metrics.score("log_loss", [0, 0], probs) == pytest.approx(clipped)
    assert math.isfinite(metrics.score("log_loss", [0, 0], probs))
    # float32 input too: score works in float64, so the clip is float64's eps, not float32's (15.9)
    assert metrics.score("log_loss", [0, 0], probs.astype(np.float32)) == pytest.approx(clipped)


def test_log_loss_counts_every_column_as_a_class_even_one_absent_from_the_labels():
    y = np.array([0, 1, 0])  # class 2 never occurs
    probs = np.array([[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.5, 0.25, 0.25]])
    by_hand = -np.mean(np.log([0.6, 0.8, 0.5]))
    assert metrics.score("log_loss", y, probs) == pytest.approx(by_hand)
    assert metrics.score("log_loss", y, probs) == pytest.approx(log_loss(y, probs, labels=[0, 1, 2]))


def test_an_unknown_metric_is_a_key_error():
    with pytest.raises(KeyError, match="auc"):
        metrics.score("auc", Y, PROBS)


def test_scores_are_the_metric_the_accuracy_and_the_log_loss():
    got = metrics.scores("macro_f1", Y, PROBS)
    assert set(got) == {"score", "accuracy", "log_loss"}
    assert got["score"] == pytest.approx(f1_score(Y, PROBS.argmax(1), average="macro"))
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["log_loss"] == pytest.approx(log_loss(Y, PROBS))
    assert all(type(v) is float for v in got.values())
    assert metrics.scores("log_loss", Y, PROBS)["score"] == got["log_loss"]



def test_micro_f1_of_one_class_per_row_is_the_accuracy_and_mean_roc_auc_the_one_vs_rest_auc():
    assert metrics.score("micro_f1", Y, PROBS) == pytest.approx(f1_score(Y, PROBS.argmax(1), average="micro"))
    assert metrics.score("micro_f1", Y, PROBS) == pytest.approx(4 / 6)
    assert metrics.score("mean_roc_auc", Y, PROBS) == pytest.approx(
        roc_auc_score(Y, PROBS, multi_class="ovr", average="macro"))


def test_binary_log_loss_and_roc_auc_of_two_columns():
    y, p1 = np.array([0, 1, 1, 0, 1]), np.array([0.2, 0.7, 0.4, 0.6, 0.9])
    probs = np.column_stack([1 - p1, p1])
    assert metrics.score("log_loss", y, probs) == pytest.approx(log_loss(y, p1))
    # pairs (positive, negative) ranked right: 0.7 > both, 0.9 > both, 0.4 > 0.2 only: 5 of 6
    assert metrics.score("roc_auc", y, probs) == pytest.approx(5 / 6)
    assert metrics.score("roc_auc", y, probs) == pytest.approx(roc_auc_score(y, p1))
    assert metrics.score("roc_auc", y[:, None].astype(float), p1[:, None]) == pytest.approx(5 / 6)  # one 0/1 column


# 5 rows, 3 labels; thresholded at 0.5 row 3 has none (its arg-max, column 1, is taken)
TRUTH = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
LABEL_PROBS = np.array([[0.9, 0.2, 0.6], [0.3, 0.8, 0.1], [0.7, 0.4, 0.2], [0.1, 0.45, 0.3], [0.6, 0.1, 0.55]])
PREDICTED = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0], [1, 0, 1]])


def test_several_labels_are_thresholded_at_one_half_one_at_least_per_row():
    assert metrics.score("accuracy", TRUTH, LABEL_PROBS) == pytest.approx(3 / 5)  # rows 0, 1, 3 exact
    assert metrics.score("accuracy", TRUTH, LABEL_PROBS) == pytest.approx(accuracy_score(TRUTH, PREDICTED))
    # column 0: 2 right of 3 predicted, 2 of 2 found: 4/5; column 1: 2 of 2, 2 of 3: 4/5; column 2: 1
    assert metrics.score("macro_f1", TRUTH, LABEL_PROBS) == pytest.approx((4 / 5 + 4 / 5 + 1) / 3)
    assert metrics.score("macro_f1", TRUTH, LABEL_PROBS) == pytest.approx(f1_score(TRUTH, PREDICTED, average="macro"))
    assert metrics.score("micro_f1", TRUTH, LABEL_PROBS) == pytest.approx(2 * 6 / (7 + 7))  # 6 right, 7 and 7
    assert metrics.score("micro_f1", TRUTH, LABEL_PROBS) == pytest.approx(f1_score(TRUTH, PREDICTED, average="micro"))


def test_fitted_thresholds_replace_one_half_column_by_column():
    decisions = {"thresholds": [0.65, 0.3, 0.5]}  # row 4 loses column 0, row 2 gains column 1
    assert metrics.score("accuracy", TRUTH, LABEL_PROBS, decisions) == 1.0
    assert metrics.score("macro_f1", TRUTH, LABEL_PROBS, decisions) == 1.0
    assert metrics.per_class_f1(TRUTH, LABEL_PROBS) == [0.8, 0.8, 1.0]
    assert metrics.per_class_f1(TRUTH, LABEL_PROBS, decisions) == [1.0, 1.0, 1.0]


def test_several_labels_are_independent_columns_scored_one_by_one():
    # log loss: the mean of the columns' binary log losses; the probabilities are not normalised
    by_hand = np.mean([log_loss(TRUTH[:, j], LABEL_PROBS[:, j]) for j in range(3)])
    assert metrics.score("log_loss", TRUTH, LABEL_PROBS) == pytest.approx(by_hand)
    assert metrics.score("mean_roc_auc", TRUTH, LABEL_PROBS) == pytest.approx(roc_auc_score(TRUTH, LABEL_PROBS))


def test_mean_roc_auc_leaves_out_a_column_of_one_value():
    truth = np.column_stack([TRUTH[:, 0], np.zeros(5)])  # column 1: no positive, no AUC
    # column 0: positives 0.9, 0.7 against negatives 0.3, 0.1, 0.6: all 6 pairs right
    assert metrics.score("mean_roc_auc", truth, LABEL_PROBS[:, :2]) == 1.0
    assert math.isnan(metrics.score("mean_roc_auc", np.zeros((5, 2)), LABEL_PROBS[:, :2]))


def test_qwk_of_the_arg_max_or_of_the_expected_grade_cut_at_fitted_cuts():
    grade = np.array([0, 1, 2, 2, 1, 0])
    assert metrics.score("qwk", grade, PROBS) == pytest.approx(cohen_kappa_score(grade, PROBS.argmax(1),
                                                                                 weights="quadratic"))
    # expected grades 0.4, 0.8, 1.0, 1.1, 1.7, 0.9; cut at 0.85 and 1.05: grades 0, 0, 1, 2, 2, 1
    cut = np.array([0, 0, 1, 2, 2, 1])
    assert metrics.score("qwk", grade, PROBS, {"cuts": [1.05, 0.85]}) == pytest.approx(
        cohen_kappa_score(grade, cut, weights="quadratic"))
    # grades weighted by their values: 0, 1, 3 are spaced 1 and 2 even where grade 2 never occurs
    spaced, predicted = np.array([0, 1, 3, 3, 0, 1]), np.array([0, 3, 3, 1, 1, 0])
    by_value = cohen_kappa_score(spaced, predicted, labels=[0, 1, 2, 3], weights="quadratic")
    assert by_value != pytest.approx(cohen_kappa_score(spaced, predicted, weights="quadratic"))
    assert metrics.score("qwk", spaced, np.eye(4)[predicted]) == pytest.approx(by_value)


def test_map_at_5_is_the_mean_of_one_over_the_rank_of_the_truth():
    probs = np.array([[0.50, 0.20, 0.10, 0.10, 0.05, 0.03, 0.02],   # truth 0 first: 1
                      [0.35, 0.30, 0.10, 0.10, 0.05, 0.05, 0.05],   # truth 1 second: 1/2
                      [0.30, 0.10, 0.10, 0.25, 0.15, 0.05, 0.05],   # truth 2 fifth (tied, after 1): 1/5
                      [0.30, 0.20, 0.10, 0.02, 0.15, 0.13, 0.10]])  # truth 3 last: 0
    truth = np.array([0, 1, 2, 3])
    assert metrics.score("map_at_5", truth, probs) == pytest.approx((1 + 1 / 2 + 1 / 5 + 0) / 4)
    # class 6 as the new label scored 0.35: after 0.50 in row 0, after the equal 0.35 of class 0 in row 1
    new = {"new_index": 6, "new_score": 0.35}
    assert metrics.score("map_at_5", truth, probs, new) == pytest.approx((1 + 1 / 3 + 0 + 0) / 4)


def test_rmse_of_numbers_one_a_row_or_one_column():
    truth, predicted = np.array([3.0, 10.0, 7.5]), np.array([4.0, 8.0, 7.5])
    assert metrics.score("rmse", truth, predicted) == pytest.approx(math.sqrt((1 + 4 + 0) / 3))
    assert metrics.score("rmse", truth, predicted[:, None]) == pytest.approx(math.sqrt(5 / 3))
    with pytest.raises(ValueError, match="one predicted number per row"):
        metrics.score("rmse", truth, np.ones((3, 2)))


def test_scores_add_accuracy_and_log_loss_only_beside_class_indices():
    assert set(metrics.scores("qwk", Y, PROBS)) == {"score", "accuracy", "log_loss"}
    assert metrics.scores("macro_f1", TRUTH, LABEL_PROBS) == {"score": pytest.approx(0.8666667)}
    assert set(metrics.scores("rmse", [1.0, 2.0], [1.5, 2.0])) == {"score"}


def test_a_truth_that_fits_no_metric_is_a_value_error_naming_the_shapes():
    with pytest.raises(ValueError, match=r"truth of shape \(6,\) and probabilities of shape \(6, 3\)"):
        metrics.score("roc_auc", Y, PROBS)  # more than one positive class
    with pytest.raises(ValueError, match="non-integer"):
        metrics.score("accuracy", [0.5, 1.0], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"\(5, 2\) against \(5, 3\)"):
        metrics.score("macro_f1", TRUTH[:, :2], LABEL_PROBS)


@pytest.mark.parametrize("metric, value, problem", [
    ("qwk", -0.5, None), ("qwk", 1.5, "1.5 is out of range: qwk scores are in [-1, 1] (scores are fractions: 0.015?)"),
    ("qwk", -1.01, "-1.01 is out of range: qwk scores are in [-1, 1]"), ("rmse", 12.3, None), ("rmse", 0.0, None),
    ("rmse", -1.0, "-1.0 is out of range: rmse scores are finite and 0 or more"),
    ("rmse", math.inf, "inf is out of range: rmse scores are finite and 0 or more"),
    ("roc_auc", 0.97, None), ("map_at_5", -0.2, "-0.2 is out of range: map_at_5 scores are in [0, 1]"),
])
def test_range_problem_of_the_new_metrics(metric, value, problem):
    assert metrics.range_problem(metric, value) == problem


# --------------------------------------------------------------------------- per-class F1


def test_per_class_f1_in_class_order_rounded_to_4_places():
    got = metrics.per_class_f1(Y, PROBS)
    assert got == [0.5, 0.8, 0.6667]
    assert got == [round(v, 4) for v in f1_score(Y, PROBS.argmax(1), average=None)]
    assert np.mean(got) == pytest.approx(metrics.score("macro_f1", Y, PROBS), abs=1e-4)


def test_per_class_f1_is_0_for_a_class_never_predicted_nor_present():
    y = np.array([0, 1, 0, 1])
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    # class 0: 1 of 1 predicted, 1 of 2 found: 2/3; class 1: 2 of 3 predicted, 2 of 2 found: 4/5; class 2: none
    assert metrics.per_class_f1(y, probs) == [0.6667, 0.8, 0.0]


def test_per_class_f1_text_lists_the_worst_class_first():
    text = metrics.per_class_f1_text({"cat": 0.9120, "dog": 0.8731, "bird": 0.95})
    assert text == "per-class F1 (out-of-fold, worst first): dog 0.8731 | cat 0.9120 | bird 0.9500"
    assert metrics.per_class_f1_text({"a": 1.0}) == "per-class F1 (out-of-fold, worst first): a 1.0000"


# --------------------------------------------------------------------------- directions, best epoch, monitor


@pytest.mark.parametrize("name, higher", [
    ("accuracy", True), ("macro_f1", True), ("log_loss", False),
    ("val_accuracy", True), ("val_macro_f1", True), ("val_log_loss", False), ("val_loss", False),
])
def test_higher_is_better_for_a_metric_or_its_monitored_log_key(name, higher):
    assert metrics.higher_is_better(name) is higher


def test_higher_is_better_of_an_unknown_name_is_a_key_error():
    with pytest.raises(KeyError):
        metrics.higher_is_better("val_auc")


@pytest.mark.parametrize("metric, best", [
    ("accuracy", 2), ("val_accuracy", 2), ("macro_f1", 2),  # the largest
    ("log_loss", 1), ("val_log_loss", 1), ("val_loss", 1),  # the smallest
])
def test_best_index_is_the_max_or_the_min_by_the_metrics_direction(metric, best):
    assert metrics.best_index([0.5, 0.3, 0.9, 0.7], metric) == best


def test_best_index_skips_nan_takes_the_first_of_a_tie_and_counts_positions():
    assert metrics.best_index([np.nan, 0.4, 0.2, np.nan], "val_loss") == 2
    assert metrics.best_index([np.nan, 0.4, 0.2, np.nan], "val_accuracy") == 1
    assert metrics.best_index([0.8, 0.9, 0.9], "accuracy") == 1  # the earlier epoch of equal ones
    history = pd.Series([0.7, 0.6, 0.65], index=[10, 11, 12])  # a history column: position, not label
    assert metrics.best_index(history, "val_loss") == 1
    assert type(metrics.best_index(history, "val_loss")) is int


@pytest.mark.parametrize("metric, requested, monitor", [
    ("accuracy", "auto", "val_accuracy"),
    ("macro_f1", "auto", "val_macro_f1"),
    ("log_loss", "auto", "val_log_loss"),
    ("macro_f1", "val_loss", "val_loss"),  # a recipe's train.monitor is kept as it is
    ("accuracy", "val_macro_f1", "val_macro_f1"),
])
def test_monitor_for_follows_the_competitions_metric_unless_a_recipe_names_one(metric, requested, monitor):
    assert metrics.monitor_for(metric, requested) == monitor


def test_monitor_for_defaults_to_auto():
    assert metrics.monitor_for("log_loss") == "val_log_loss"
