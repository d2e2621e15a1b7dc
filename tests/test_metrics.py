"""comp.metrics: each metric against scikit-learn and a value worked out by hand, the direction
each is better in, the best epoch's position, the checkpoint monitor, the per-class F1 line.
Small arrays only: no model, no TensorFlow."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss

from comp import metrics

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


def test_the_metrics_are_these_three_each_with_its_direction():
    assert {name: higher for name, (_, higher) in metrics.METRICS.items()} == {
        "accuracy": True, "macro_f1": True, "log_loss": False}


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
