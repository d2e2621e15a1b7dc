"""comp.targets.decisions: grades cut at fitted cuts (QWK), ranked labels with a new label's fitted
score (MAP@5), labels over fitted thresholds (F1); each fit beats or keeps its default on an
example where the default is clearly wrong, and the decisions go through JSON unchanged.
Small arrays only: no model, no TensorFlow."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from comp import metrics
from comp.targets import decisions
from comp.targets.decisions import (fit_cuts, fit_decisions, fit_new_score, fit_thresholds, grades, map_at_k,
                                    threshold, top_k)


def low_by_one_grade(n: int = 400, n_grades: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grades and the probabilities of a model biased one grade low: 0.6 on the grade below the
    truth (the truth itself for grade 0), 0.3 on the truth, a little noise on every grade."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_grades, n)
    probs = rng.uniform(0, 0.1, (n, n_grades))
    probs[np.arange(n), np.maximum(truth - 1, 0)] += 0.6
    probs[np.arange(n), truth] += 0.3
    return truth, probs / probs.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- grades


def test_grades_are_the_arg_max_or_the_expected_grade_cut_at_the_cuts():
    probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.1, 0.8], [0.5, 0.0, 0.5]])
    assert grades(probs).tolist() == [0, 1, 2, 0]
    # expected grades 0.4, 0.8, 1.7, 1.0; a value on a cut takes the higher grade; the cuts in any order
    assert grades(probs, [0.8, 1.5]).tolist() == [0, 1, 2, 1]
    assert grades(probs, [1.5, 0.8]).tolist() == [0, 1, 2, 1]
    assert grades(probs, [0.3, 0.5]).tolist() == [1, 2, 2, 2]
    with pytest.raises(ValueError, match="3 grades take 2 cuts; received 3"):
        grades(probs, [0.5, 1.5, 2.5])


def test_fitted_cuts_beat_the_arg_max_of_a_model_one_grade_low():
    truth, probs = low_by_one_grade()
    cuts = fit_cuts(truth, probs)
    assert len(cuts) == 4 and cuts == sorted(cuts) and all(type(c) is float for c in cuts)
    fitted = metrics.score("qwk", truth, probs, {"cuts": cuts})
    assert fitted == pytest.approx(cohen_kappa_score(truth, grades(probs, cuts), weights="quadratic"))
    assert fitted > metrics.score("qwk", truth, probs) + 0.05  # the arg-max: 0.6 on the grade below
    assert fitted > metrics.score("qwk", truth, probs, {"cuts": [0.5, 1.5, 2.5, 3.5]})  # the start
    assert fitted > 0.95  # the grades' expected values barely overlap: cut between them, nearly all are right
    assert cuts[-1] < 3  # grade 4's expected value is about 3.06, grade 3's 2.27


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fitted_cuts_are_never_worse_than_the_start_on_the_data_fitted(seed):
    rng = np.random.default_rng(seed)
    truth, probs = rng.integers(0, 4, 60), rng.dirichlet(np.ones(4), 60)  # no signal at all
    start = metrics.score("qwk", truth, probs, {"cuts": [0.5, 1.5, 2.5]})
    assert metrics.score("qwk", truth, probs, {"cuts": fit_cuts(truth, probs)}) >= start


# --------------------------------------------------------------------------- ranked labels


def test_top_k_ranks_the_most_probable_first_ties_to_the_lower_index():
    probs = np.array([[0.1, 0.4, 0.2, 0.3], [0.25, 0.25, 0.25, 0.25]])
    assert top_k(probs, 3).tolist() == [[1, 3, 2], [0, 1, 2]]
    assert top_k(probs, 2, new_index=2, new_score=0.35).tolist() == [[1, 2], [2, 0]]
    assert top_k(probs, 2, new_index=3, new_score=0.25).tolist() == [[1, 3], [0, 1]]  # the new one ties too
    assert probs[0, 2] == 0.2  # the probabilities themselves are left as they were


def test_map_at_k_is_the_mean_of_one_over_the_rank_of_the_truth():
    ranked = np.array([[3, 1, 2], [0, 1, 2], [2, 0, 1], [1, 2, 3]])
    assert map_at_k([3, 1, 1, 0], ranked) == pytest.approx((1 + 1 / 2 + 1 / 3 + 0) / 4)


def test_a_fitted_new_score_ranks_a_new_label_the_model_never_predicts():
    # class 0 is "new" (new_whale): the truth of 30 rows of 100, and 0.01 in every row
    rng = np.random.default_rng(4)
    truth = np.where(rng.random(100) < 0.3, 0, rng.integers(1, 8, 100))
    probs = rng.dirichlet(np.ones(8), 100)
    probs[np.arange(100), truth] += 0.3 * (truth > 0)
    probs[:, 0] = 0.01
    probs = probs / probs.sum(axis=1, keepdims=True)
    new_score = fit_new_score(truth, probs, new_index=0)
    assert 0 < new_score < 1 and type(new_score) is float
    fitted = metrics.score("map_at_5", truth, probs, {"new_index": 0, "new_score": new_score})
    assert fitted > metrics.score("map_at_5", truth, probs) + 0.05  # class 0 last: 0.69
    # the best of the grid, each scored by ranking all classes again
    on_grid = [metrics.score("map_at_5", truth, probs, {"new_index": 0, "new_score": s}) for s in decisions.NEW_SCORES]
    assert fitted == pytest.approx(max(on_grid))


def test_the_fitted_new_score_ranks_as_top_k_does_where_scores_tie():
    # probabilities of 0.05 steps: many equal the grid's scores, and the new class is not the first
    truth = np.array([2, 0, 1, 3, 2, 2])
    probs = np.array([[0.3, 0.2, 0.2, 0.3], [0.1, 0.4, 0.1, 0.4], [0.25, 0.25, 0.25, 0.25],
                      [0.05, 0.35, 0.3, 0.3], [0.5, 0.1, 0.2, 0.2], [0.2, 0.2, 0.4, 0.2]])
    new_score = fit_new_score(truth, probs, new_index=2, k=2)
    by_ranking = [map_at_k(truth, top_k(probs, 2, 2, s)) for s in decisions.NEW_SCORES]
    assert new_score == decisions.NEW_SCORES[int(np.argmax(by_ranking))]


# --------------------------------------------------------------------------- several labels


def test_threshold_keeps_the_columns_above_theirs_and_one_at_least_per_row():
    probs = np.array([[0.6, 0.5, 0.2], [0.1, 0.3, 0.2], [0.9, 0.8, 0.7]])
    assert threshold(probs, 0.5).tolist() == [[True, False, False], [False, True, False], [True, True, True]]
    assert threshold(probs, 0.5, at_least_one=False)[1].tolist() == [False, False, False]
    assert threshold(probs, [0.7, 0.4, 0.1]).tolist() == [[False, True, True], [False, False, True],
                                                           [True, True, True]]


def under_confident(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Labels (200, 4) and the probabilities of a model that never says more than 0.45: a positive
    between 0.25 and 0.45 (column 3: 0.1 to 0.2), a negative between 0 and 0.3 (column 3: 0 to 0.12)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((200, 4)) < 0.4).astype(float)
    positive = rng.uniform([0.25, 0.25, 0.25, 0.1], [0.45, 0.45, 0.45, 0.2], truth.shape)
    return truth, np.where(truth == 1, positive, rng.uniform(0, [0.3, 0.3, 0.3, 0.12], truth.shape))


@pytest.mark.parametrize("metric, average", [("micro_f1", "micro"), ("macro_f1", "macro")])
def test_fitted_thresholds_beat_one_half_on_an_under_confident_model(metric, average):
    truth, probs = under_confident()
    thresholds = fit_thresholds(truth, probs, metric)
    assert len(thresholds) == 4 and all(type(t) is float for t in thresholds)
    fitted = metrics.score(metric, truth, probs, {"thresholds": thresholds})
    assert fitted == pytest.approx(f1_score(truth, threshold(probs, thresholds), average=average))
    assert fitted > metrics.score(metric, truth, probs) + 0.1
    if metric == "micro_f1":
        assert len(set(thresholds)) == 1  # one for all columns
    else:
        assert thresholds[3] < min(thresholds[:3])  # the column that says least gets the lowest


@pytest.mark.parametrize("metric", ["micro_f1", "macro_f1"])
def test_thresholds_stay_at_one_half_where_nothing_does_better(metric):
    truth = np.array([[1, 0], [0, 1], [1, 1], [0, 1]], dtype=float)
    probs = np.where(truth == 1, 0.9, 0.1)  # 0.5 is already perfect
    assert fit_thresholds(truth, probs, metric) == [0.5, 0.5]
    with pytest.raises(ValueError, match="micro_f1 or macro_f1; received 'accuracy'"):
        fit_thresholds(truth, probs, "accuracy")


# --------------------------------------------------------------------------- all together


def test_fit_decisions_fits_what_each_metric_needs():
    truth, probs = low_by_one_grade(n=100)
    labels, label_probs = under_confident()
    assert set(fit_decisions("qwk", truth, probs)) == {"cuts"}
    assert set(fit_decisions("map_at_5", truth, probs, new_index=0)) == {"new_index", "new_score"}
    assert set(fit_decisions("micro_f1", labels, label_probs)) == {"thresholds"}
    assert set(fit_decisions("macro_f1", labels, label_probs)) == {"thresholds"}
    for metric in ("accuracy", "log_loss", "macro_f1", "map_at_5", "roc_auc"):  # nothing to fit on class indices
        assert fit_decisions(metric, truth, probs) == {}


@pytest.mark.parametrize("metric, which", [("qwk", "grades"), ("map_at_5", "grades"), ("macro_f1", "labels"),
                                           ("micro_f1", "labels")])
def test_decisions_go_through_json_unchanged(metric, which):
    truth, probs = low_by_one_grade(n=100) if which == "grades" else under_confident()
    fitted = fit_decisions(metric, truth, probs, new_index=0 if metric == "map_at_5" else None)
    again = json.loads(json.dumps(fitted))
    assert again == fitted and fitted
    assert metrics.score(metric, truth, probs, again) == metrics.score(metric, truth, probs, fitted)
