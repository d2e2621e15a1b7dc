"""Every Kaggle layout end to end: `comp init FOLDER --metric M` alone, then `comp train` and
`comp predict --ensemble`; the competition's own grader (ported from MLE-bench, tests/kaggle)
accepts the submission, and it beats the constant sample submission; `comp report` shows the
kind's sections (ROC curves for AUC, a per-label table for several labels).

The competitions are tiny generated versions in the exact layouts of the real ones (68-80
training images of about 32 px with a learnable cue per class, label or grade).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.kaggle import COMPETITIONS

pytestmark = pytest.mark.slow

RECIPE = """\
name = "kaggle-tiny"
description = "a narrow net, a few epochs: the tiny Kaggle layouts' end-to-end tests"

[model]
name = "vgg"
widths = [12, 24]
convs_per_stage = 1

[augment]
preset = "light"
flip = false

[train]
epochs = 30
batch_size = 16
lr = 0.03
warmup_epochs = 1
seed = 0

[predict]
tta = "none"
batch_size = 64
"""

# the margin a trained model clears over the constant submission (in the metric's direction)
MARGIN = {"roc_auc": 0.15, "mean_roc_auc": 0.1, "log_loss": 0.05, "accuracy": 0.15, "macro_f1": 0.15,
          "micro_f1": 0.15, "qwk": 0.2, "map_at_5": 0.1, "rmse": 5.0}


MULTI_LABEL = {"plant-pathology-2021-fgvc8", "ranzcr-clip-catheter-line-classification", "imet-2020-fgvc7"}


def best_constant(case, public, answers) -> pd.DataFrame:
    """The constant submission to beat: the sample as given; for RMSE (petfinder's sample holds
    random numbers), the best constant there is, the answers' mean (a model that learnt nothing
    predicts about the mean: shuffled labels reach it, a learnt cue beats it)."""
    sample = case.constant_submission(public)
    if case.metric == "rmse":
        target = [c for c in sample.columns if c in answers.columns and c != sample.columns[0]][0]
        sample[target] = answers[target].mean()
    return sample


@pytest.fixture
def kaggle_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "competition" / "recipes").mkdir(parents=True)
    (tmp_path / "competition" / "recipes" / "kaggle-tiny.toml").write_text(RECIPE)
    return tmp_path


@pytest.mark.parametrize("name", sorted(COMPETITIONS))
def test_init_train_predict_is_graded_and_beats_the_constant(name, kaggle_workdir, cli):
    case = COMPETITIONS[name]
    public, private = kaggle_workdir / "data" / name, kaggle_workdir / "private" / name
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    case.build(public, private, seed=0)

    init = cli("init", f"data/{name}", "--metric", case.metric)
    assert init.exit_code == 0, init.output
    train = cli("train", "-c", name, "-r", "kaggle-tiny", "--folds", "3", "--executor", "inline", "-q")
    assert train.exit_code == 0, train.output
    predict = cli("predict", "-c", name, "--ensemble", "--out", "sub.csv")
    assert predict.exit_code == 0, predict.output

    submission = pd.read_csv(kaggle_workdir / "sub.csv")
    answers = case.answers(private)
    score = case.grade(submission, answers)  # raises InvalidSubmission where the grader refuses it
    constant = case.grade(best_constant(case, public, answers), answers)
    assert math.isfinite(score)
    gain = (score - constant) if case.higher_is_better else (constant - score)
    assert gain > MARGIN[case.metric], (name, case.metric, score, constant, init.output)

    run_id = next((kaggle_workdir / "runs" / name).glob("*/config.toml")).parent.name
    report = cli("report", "-c", name, run_id)
    assert report.exit_code == 0, report.output
    page = (kaggle_workdir / "runs" / name / run_id / "report" / "index.html").read_text()
    assert ('id="roc"' in page) == (case.metric in ("roc_auc", "mean_roc_auc"))
    assert ('id="per-label"' in page) == (name in MULTI_LABEL)
    assert ('id="confusion"' in page) == (name not in MULTI_LABEL | {"petfinder-pawpularity-score"})


def test_several_labels_blend_two_runs_with_oof_weights(kaggle_workdir, cli):
    import json

    name = "plant-pathology-2021-fgvc8"
    case = COMPETITIONS[name]
    public, private = kaggle_workdir / "data" / name, kaggle_workdir / "private" / name
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    case.build(public, private, seed=0)
    assert cli("init", f"data/{name}", "--metric", case.metric).exit_code == 0
    for run_id, epochs in (("a", 3), ("b", 5)):  # the same folds (train.seed), two models
        train = cli("train", "-c", name, "-r", "kaggle-tiny", "--folds", "2", "--executor", "inline", "-q",
                    "--run", run_id, "--set", f"train.epochs={epochs}")
        assert train.exit_code == 0, train.output
    predict = cli("predict", "-c", name, "--ensemble", "--run", "a", "--run", "b", "--weights", "oof",
                  "--out", "sub.csv")
    assert predict.exit_code == 0, predict.output
    assert "OOF blend weights fitted on" in predict.stderr and "blend: OOF" in predict.stderr
    manifest = json.loads((kaggle_workdir / "sub.json").read_text())
    assert manifest["weights_mode"] == "oof" and sum(manifest["weights"]) == pytest.approx(1.0)
    assert manifest["blend"]["oof_log_loss"] <= min(r["oof_log_loss"] for r in manifest["blend"]["runs"]) + 1e-9
    assert math.isfinite(case.grade(pd.read_csv(kaggle_workdir / "sub.csv"), case.answers(private)))
