"""The whole path through the CLI: train (fold subprocesses) → predict --ensemble → validate → score."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest


@pytest.mark.slow
def test_train_predict_validate_score_end_to_end(tiny_competition, cli):
    result = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "e2e", "-q")
    assert result.exit_code == 0, result.output
    run_dir = tiny_competition / "runs" / "tiny" / "e2e"
    assert result.stdout.strip().endswith(str(run_dir.relative_to(tiny_competition)))
    for k in (0, 1):
        fold = run_dir / f"fold-{k}"
        for name in ("model.keras", "history.csv", "oof.npy", "test.npy", "metrics.json"):
            assert (fold / name).is_file(), f"fold-{k}/{name} missing"
        assert not (fold / "backup").exists()  # BackupAndRestore cleans up after a finished fold
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["finished_folds"] == 2 and summary["oof_rows"] == 36
    # the OOF score is the accuracy of the saved OOF probabilities against folds.csv's labels
    table = pd.read_csv(run_dir / "folds.csv", dtype={"id": str, "label": str})
    classes = json.loads((run_dir / "classes.json").read_text())["classes"]
    rows = np.concatenate([np.flatnonzero(table["fold"] == k) for k in (0, 1)])
    oof = np.concatenate([np.load(run_dir / f"fold-{k}" / "oof.npy") for k in (0, 1)])
    truth = table["label"].map(classes.index).to_numpy()[rows]
    assert summary["oof_score"] == pytest.approx(float(np.mean(oof.argmax(1) == truth)))
    assert (run_dir / "plots" / "curves.png").stat().st_size > 1000
    assert (run_dir / "plots" / "confusion.png").stat().st_size > 1000
    folds = pd.read_csv(run_dir / "folds.csv", dtype=str)
    assert list(folds.columns) == ["id", "label", "fold"] and len(folds) == 36
    assert "OOF" in result.stderr  # the fold table

    again = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "e2e", "-q")
    assert again.exit_code == 0
    assert "nothing to train" in again.stderr

    pred = cli("predict", "-c", "tiny", "--ensemble")
    assert pred.exit_code == 0, pred.output
    csv = tiny_competition / pred.stdout.strip()
    sub = pd.read_csv(csv, dtype=str)
    assert list(sub.columns) == ["id", "target"]
    assert list(sub["id"]) == [f"TEST_{i:03d}" for i in range(9)]
    assert set(sub["target"]) <= {"circle", "square", "stripe"}
    manifest = json.loads(csv.with_suffix(".json").read_text())
    assert manifest["runs"][0]["fold_models"] == 2 and manifest["tta"] == "flip"
    # each fold's agreement with the ensemble on the test images: in the manifest and in a table
    probs = [np.load(tiny_competition / "runs" / "tiny" / manifest["runs"][0]["run"] / f"fold-{k}" / "test.npy")
             for k in (0, 1)]
    ensemble = np.mean(probs, axis=0).argmax(axis=1)
    expected = [round(float(np.mean(p.argmax(axis=1) == ensemble)), 4) for p in probs]
    assert manifest["runs"][0]["fold_agreement"] == expected
    assert "test decisions shared with the ensemble" in pred.stderr
    assert manifest["rule_check"]["passed"] is True
    assert "test accuracy" in pred.stderr

    ok = cli("validate", str(csv), "-c", "tiny")
    assert ok.exit_code == 0 and "valid" in ok.stdout
    scored = cli("score", str(csv), "--answers", "data/tiny/answers.csv", "-c", "tiny")
    assert scored.exit_code == 0
    answers = pd.read_csv(tiny_competition / "data" / "tiny" / "answers.csv", dtype=str)
    assert float(scored.stdout.strip()) == pytest.approx(float(np.mean(sub["target"] == answers["target"])), abs=1e-4)

    listing = cli("runs", "-c", "tiny")
    assert "e2e" in listing.stdout and "2/2" in listing.stdout


@pytest.mark.slow
def test_subset_trains_on_n_images_per_class_without_the_test_set(tiny_competition, cli):
    full = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--fold", "0", "--run", "full", "-q")
    assert full.exit_code == 0, full.output
    cache = tiny_competition / "data" / ".cache" / "tiny"
    full_cache = (cache / "train-12x12.npy").read_bytes()
    result = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--subset", "5", "--run", "sub",
                 "--executor", "inline", "-q")
    assert result.exit_code == 0, result.output
    run = tiny_competition / "runs" / "tiny" / "sub"
    folds = pd.read_csv(run / "folds.csv", dtype=str)
    assert len(folds) == 15 and folds["label"].value_counts().eq(5).all()
    assert "15 train / 0 test images" in result.stderr
    assert 'subset = 5' in (run / "config.toml").read_text()
    assert (run / "fold-0" / "oof.npy").is_file() and not (run / "fold-0" / "test.npy").exists()
    # the subset has a cache of its own: the full training set's stays as it was
    assert (cache / "train-12x12.npy").read_bytes() == full_cache
    assert (cache / "train-subset5-12x12.npy").is_file()

    # the same draw in a fold subprocess (read back from the run's config)
    from comp.runs.run import open_run
    from comp.train.kfold import train_fold_in_run
    reopened = open_run("tiny", "sub")
    assert reopened.subset == 5
    import shutil
    shutil.rmtree(run / "fold-1")
    train_fold_in_run(reopened, 1, verbose=0)
    assert (run / "fold-1" / "metrics.json").is_file()

    pred = cli("predict", "-c", "tiny", "--run", "sub", "--ensemble")  # the test set decoded on demand
    assert pred.exit_code == 0, pred.output
    assert len(pd.read_csv(tiny_competition / pred.stdout.strip())) == 9


def test_subset_of_zero_images_is_refused():
    from comp.data.layouts import Dataset, subset_dataset
    from comp.errors import CompError
    import pytest

    ds = Dataset(train=pd.DataFrame({"id": ["a"], "path": ["a.png"], "label": ["x"]}), test=pd.DataFrame(),
                 class_names=["x"])
    with pytest.raises(CompError, match="--subset must be at least 1 image per class. Received: 0"):
        subset_dataset(ds, 0, seed=0)


@pytest.mark.slow
def test_predict_from_a_partial_run_reports_the_finished_folds_oof_score(tiny_competition, cli):
    result = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--fold", "0", "--run", "half", "-q")
    assert result.exit_code == 0, result.output
    refused = cli("predict", "-c", "tiny", "--run", "half", "--ensemble", catch=True)
    assert refused.exit_code == 2 and "allow-partial" in refused.output
    pred = cli("predict", "-c", "tiny", "--run", "half", "--ensemble", "--allow-partial")
    assert pred.exit_code == 0, pred.output
    fold = json.loads((tiny_competition / "runs" / "tiny" / "half" / "fold-0" / "metrics.json").read_text())
    assert f"OOF accuracy {fold['accuracy']:.4f} (the 18 rows of folds [0])" in pred.stderr
    assert "nan" not in pred.stderr
    manifest = json.loads((tiny_competition / pred.stdout.strip()).with_suffix(".json").read_text())
    assert manifest["runs"][0]["oof_score"] == pytest.approx(fold["accuracy"], abs=1e-4)


def test_models_lists_every_model_with_its_options_and_the_transfer_backbones(cli):
    from comp.models import list_models
    from comp.models.transfer import list_backbones

    result = cli("models")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [ln.split()[0] for ln in lines if ln and not ln.startswith(" ") and not ln.startswith("backbones")] == list_models()
    assert "whiten_eps=0.0005" in result.output and "lookahead" not in result.output  # model options only
    assert lines[-1].endswith(", ".join(list_backbones())) and "ResNet50V2" in lines[-1]
