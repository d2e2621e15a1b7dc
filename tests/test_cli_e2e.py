"""The whole path through the CLI: train (fold subprocesses) → predict --ensemble → validate → score."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from comp.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_train_predict_validate_score_end_to_end(tiny_competition):
    result = invoke("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "e2e", "-q")
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
    assert 0.0 <= summary["oof_score"] <= 1.0
    assert (run_dir / "plots" / "curves.png").stat().st_size > 1000
    assert (run_dir / "plots" / "confusion.png").stat().st_size > 1000
    folds = pd.read_csv(run_dir / "folds.csv", dtype=str)
    assert list(folds.columns) == ["id", "label", "fold"] and len(folds) == 36
    assert "OOF" in result.stderr  # the fold table

    again = invoke("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "e2e", "-q")
    assert again.exit_code == 0
    assert "nothing to train" in again.stderr

    pred = invoke("predict", "-c", "tiny", "--ensemble")
    assert pred.exit_code == 0, pred.output
    csv = tiny_competition / pred.stdout.strip()
    sub = pd.read_csv(csv, dtype=str)
    assert list(sub.columns) == ["id", "target"]
    assert list(sub["id"]) == [f"TEST_{i:03d}" for i in range(9)]
    assert set(sub["target"]) <= {"circle", "square", "stripe"}
    manifest = json.loads(csv.with_suffix(".json").read_text())
    assert manifest["runs"][0]["fold_models"] == 2 and manifest["tta"] == "flip"
    assert manifest["rule_check"]["passed"] is True
    assert "test accuracy" in pred.stderr

    ok = invoke("validate", str(csv), "-c", "tiny")
    assert ok.exit_code == 0 and "valid" in ok.stdout
    scored = invoke("score", str(csv), "--answers", "data/tiny/answers.csv", "-c", "tiny")
    assert scored.exit_code == 0
    assert 0.0 <= float(scored.stdout.strip()) <= 1.0

    listing = invoke("runs", "-c", "tiny")
    assert "e2e" in listing.stdout and "2/2" in listing.stdout
