"""comp.predict.blend and ``comp predict --weights oof``: weights fitted on out-of-fold predictions never
score worse than the better run alone, runs on other folds are refused, the manifest says it all.

The runs here are generated (fold predictions written straight into run folders), so no model
trains: what is under test is the blending, not the networks.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from comp import metrics
from comp.predict.blend import blend, choose_weights, fit_weights
from comp.errors import CompError


def predictions(labels: np.ndarray, classes: int, skill: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Softmax of noise plus ``skill`` (per row) on the true class: higher skill, better run."""
    logits = rng.normal(0.0, 1.0, (len(labels), classes))
    logits[np.arange(len(labels)), labels] += skill
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


# --------------------------------------------------------------------------- fitting the weights


def test_a_blend_of_two_runs_scores_at_least_as_well_out_of_fold_as_the_better_run():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 600)
    first_half = np.arange(600) < 300
    a = predictions(y, 5, np.where(first_half, 3.0, 0.5), rng)  # good on one half of the rows
    b = predictions(y, 5, np.where(first_half, 0.5, 2.5), rng)  # good on the other
    result = choose_weights([a, b], y, "accuracy", ["a", "b"])
    assert result.note == "" and sum(result.weights) == pytest.approx(1.0) and min(result.weights) > 0
    assert result.score >= max(result.run_scores)
    assert result.log_loss <= min(result.run_log_losses)
    assert result.score > max(result.run_scores)  # here the two really complement each other
    assert result.run_scores == [metrics.score("accuracy", y, a), metrics.score("accuracy", y, b)]


@pytest.mark.parametrize("seed", range(5))
def test_the_fitted_weights_are_the_log_loss_optimum_of_a_fine_grid(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 200)
    a, b = predictions(y, 3, rng.uniform(0, 3, 200), rng), predictions(y, 3, rng.uniform(0, 3, 200), rng)
    w = fit_weights([a, b], y)
    grid = np.linspace(0, 1, 2001)
    best = min(metrics.score("log_loss", y, blend([a, b], [g, 1 - g])) for g in grid)
    assert metrics.score("log_loss", y, blend([a, b], w)) <= best + 1e-6
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)


def test_a_useless_run_gets_almost_no_weight():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 500)
    good = predictions(y, 4, np.full(500, 2.5), rng)
    noise = predictions(y, 4, np.zeros(500), rng)
    w = fit_weights([good, noise], y)
    assert w[0] > 0.9 and w[1] < 0.1
    # as good as the better run alone on accuracy: the fitted weights stay, with no note
    result = choose_weights([good, noise], y, "accuracy", ["good", "noise"])
    assert result.note == "" and result.weights == pytest.approx(list(w))
    assert result.score >= max(result.run_scores)


@pytest.mark.parametrize("flatten", [0.97, 0.99, 0.995])
def test_a_run_the_optimum_leaves_out_gets_no_weight(flatten):
    # b is a, a little less sure (a ** 0.995): the optimum is a alone, where EM alone stops with
    # 11 % of the weight still on b (log loss 1.1e-4 above a's)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    a = predictions(y, 3, np.full(300, 2.0), rng)
    b = a ** flatten / (a ** flatten).sum(1, keepdims=True)
    w = fit_weights([a, b], y)
    assert w[1] < 1e-6
    assert metrics.score("log_loss", y, blend([a, b], w)) <= metrics.score("log_loss", y, a) + 1e-12


def test_identical_runs_keep_equal_weights():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 50)
    p = predictions(y, 3, np.ones(50), rng)
    np.testing.assert_allclose(fit_weights([p, p, p], y), [1 / 3] * 3)


def test_a_run_alone_is_kept_when_the_log_loss_optimum_loses_on_accuracy():
    # Run a is right on rows 0-4 (p=0.9) and sure of the wrong class on rows 5-9; run b is a
    # little wrong everywhere. The log-loss optimum (w_a = 0.36) rescues rows 5-9's loss but
    # gets rows 0-4 wrong too: accuracy 0 against run a's 0.5.
    y = np.zeros(10, dtype=int)
    a = np.array([[0.9, 0.1]] * 5 + [[1e-4, 1 - 1e-4]] * 5)
    b = np.array([[0.2, 0.8]] * 5 + [[0.45, 0.55]] * 5)
    assert fit_weights([a, b], y)[0] == pytest.approx(0.357, abs=0.01)
    result = choose_weights([a, b], y, "accuracy", ["a", "b"])
    assert result.weights == [1.0, 0.0] and result.score == 0.5
    assert result.fitted[0] == pytest.approx(0.357, abs=0.01)
    assert "scored lower on accuracy out-of-fold than run a alone" in result.note
    assert result.manifest()["note"] == result.note


def label_predictions(truth: np.ndarray, skill: float, rng: np.random.Generator) -> np.ndarray:
    """Sigmoid of noise plus ``skill`` towards each cell's 0 or 1: several labels per row."""
    logits = rng.normal(0.0, 1.0, truth.shape) + np.where(truth == 1, skill, -skill)
    return 1 / (1 + np.exp(-logits))


def test_several_labels_get_weights_on_the_mean_binary_log_loss():
    rng = np.random.default_rng(3)
    truth = (rng.random((400, 4)) < 0.3).astype(int)
    good, noise = label_predictions(truth, 2.5, rng), label_predictions(truth, 0.0, rng)
    w = fit_weights([good, noise], truth)
    assert w[0] > 0.9 and w[1] < 0.1
    a, b = label_predictions(truth, 1.0, rng), label_predictions(truth, 1.0, rng)
    w = fit_weights([a, b], truth)
    grid = np.linspace(0, 1, 1001)
    best = min(metrics.score("log_loss", truth, blend([a, b], [g, 1 - g])) for g in grid)
    assert metrics.score("log_loss", truth, blend([a, b], w)) <= best + 1e-6
    result = choose_weights([a, b], truth, "micro_f1", ["a", "b"])
    assert result.log_loss <= min(result.run_log_losses) and result.score >= max(result.run_scores)


def test_a_regression_is_refused_oof_weights_in_one_line():
    from types import SimpleNamespace

    from comp.predict.blend import fit_oof_blend

    run = SimpleNamespace(competition=SimpleNamespace(name="paw", target=SimpleNamespace(kind="regression")))
    with pytest.raises(CompError, match=r"paw's target kind \(regression\) has none: blend with --weights equal"):
        fit_oof_blend([run, run], "rmse")


# --------------------------------------------------------------------------- through comp predict


def fake_run(run_id: str, folds: int, skill: float, seed: int, fold_seed: int = 42):
    """A finished run of the tiny competition whose fold predictions are generated, not trained."""
    from comp.files.atomic import save_npy, write_json
    from comp.data.folds import make_folds
    from comp.data.images import test_key
    from comp.data.layouts import read_dataset
    from comp.runs.config import build_run_config
    from comp.runs.run import create_run, folds_frame
    from comp.config.recipe import load_recipe
    from comp.config.spec import load_competition

    competition, recipe = load_competition("tiny"), load_recipe("tiny")
    dataset = read_dataset(competition)
    fold_ids = make_folds(dataset.labels, folds, fold_seed, 0.2)
    run, _ = create_run(build_run_config(competition, recipe, "tiny", [], folds), run_id, False, dataset.class_names,
                        folds_frame(dataset.train["id"], dataset.train["label"], fold_ids))
    rng = np.random.default_rng(seed)
    test_labels = np.arange(len(dataset.test)) % 3
    for k in range(folds):
        y = dataset.labels[fold_ids == k]
        oof = predictions(y, 3, rng.uniform(0, 2 * skill, len(y)), rng)
        save_npy(run.fold_dir(k) / "oof.npy", oof.astype(np.float32))
        save_npy(run.fold_dir(k) / "test.npy",
                 predictions(test_labels, 3, np.full(len(test_labels), skill), rng).astype(np.float32))
        write_json(run.fold_dir(k) / "metrics.json", {"score": metrics.score("accuracy", y, oof), "tta": "flip",
                                                     "test_key": test_key(competition, dataset)})
    return run


def test_predict_blends_runs_with_oof_weights_and_writes_them_to_the_manifest(tiny_competition, cli):
    fake_run("a", 3, skill=1.5, seed=1)
    fake_run("b", 3, skill=1.0, seed=2)
    res = cli("predict", "-c", "tiny", "--ensemble", "--run", "a", "--run", "b", "--weights", "oof")
    assert res.exit_code == 0, res.output
    assert "OOF blend weights fitted on 36 out-of-fold rows" in res.stderr
    assert "run a: weight" in res.stderr and "blend: OOF accuracy" in res.stderr
    csv = tiny_competition / res.stdout.strip()
    manifest = json.loads(csv.with_suffix(".json").read_text())
    weights = manifest["weights"]
    assert manifest["weights_mode"] == "oof" and sum(weights) == pytest.approx(1.0)
    blend_info = manifest["blend"]
    assert [r["weight"] for r in blend_info["runs"]] == weights
    assert blend_info["oof_score"] >= max(r["oof_score"] for r in blend_info["runs"])
    assert blend_info["oof_rows"] == 36 and manifest["rule_check"]["passed"] is True

    # the CSV is the argmax of the weighted mean of each run's fold-averaged test probabilities
    def run_test(run_id):
        return np.mean([np.load(tiny_competition / f"runs/tiny/{run_id}/fold-{k}/test.npy") for k in range(3)], 0)

    expected = blend([run_test("a"), run_test("b")], weights).argmax(1)
    classes = ["circle", "square", "stripe"]
    assert pd.read_csv(csv)["target"].tolist() == [classes[i] for i in expected]


def test_equal_weights_stay_the_default(tiny_competition, cli):
    fake_run("a", 2, skill=1.5, seed=1)
    fake_run("b", 2, skill=1.0, seed=2)
    res = cli("predict", "-c", "tiny", "--ensemble", "--run", "a", "--run", "b")
    assert res.exit_code == 0, res.output
    manifest = json.loads((tiny_competition / res.stdout.strip()).with_suffix(".json").read_text())
    assert manifest["weights"] == [0.5, 0.5] and manifest["weights_mode"] == "equal" and "blend" not in manifest


@pytest.mark.parametrize("other, detail", [
    (dict(folds=3), "2 and 3 folds"),
    (dict(folds=2, fold_seed=7), "rows in another fold"),
])
def test_runs_on_different_folds_cannot_be_blended_with_oof_weights(tiny_competition, other, detail, cli):
    fake_run("a", 2, skill=1.5, seed=1)
    fake_run("b", skill=1.0, seed=2, **other)
    res = cli("predict", "-c", "tiny", "--ensemble", "--run", "a", "--run", "b", "--weights", "oof")
    assert res.exit_code == 2
    msg = res.stderr.strip()
    assert msg.startswith("error: runs 'a' and 'b' were made on different folds (runs/tiny/a/folds.csv and "
                          "runs/tiny/b/folds.csv: ")
    assert detail in msg and "blend them with --weights equal instead" in msg
    assert len(msg.splitlines()) == 1
    assert not (tiny_competition / "submissions").exists()


def test_fold_check_is_a_comp_error_in_the_library(tiny_competition):
    from comp.predict.blend import check_same_folds

    with pytest.raises(CompError, match="were made on different folds"):
        check_same_folds([fake_run("a", 2, 1.0, 1), fake_run("b", 3, 1.0, 2)])
