"""Bad input through the CLI: exit status 2, one `error:` line that names the culprit, no traceback,
and nothing half-written (no submission CSV, no temporary files, no half-trained fold)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from comp.cli import main

TRAIN = ("train", "-c", "tiny", "-r", "tiny", "--executor", "inline", "-q")


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def error_line(result, *fragments: str, only_line: bool = True) -> str:
    """The one `error:` line of a failed command; checks exit status 2 and no traceback.

    ``only_line``: the error is all of stderr (the input was refused before any work started);
    otherwise earlier progress lines may precede it, but the error is still one line, and last.
    """
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip("\n").splitlines()
    assert lines, "nothing on stderr"
    if only_line:
        assert len(lines) == 1, result.stderr
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [lines[-1]], result.stderr
    for fragment in fragments:
        assert fragment in lines[-1], f"{fragment!r} not in {lines[-1]!r}"
    assert_nothing_half_written(Path.cwd())  # the tiny_competition folder
    return lines[-1]


def assert_nothing_half_written(root: Path) -> None:
    subs = root / "submissions"
    assert not subs.exists() or not list(subs.glob("*.csv")), list(subs.iterdir())
    temporary = [p for p in root.rglob("*") if p.name.startswith(".tmp") or p.name.endswith(".tmp")]
    assert temporary == []
    for fold in root.glob("runs/*/*/fold-*"):
        assert (fold / "metrics.json").is_file() or not any(fold.iterdir()), f"{fold} is half-trained"


def assert_no_run(root: Path) -> None:
    assert not (root / "runs").exists() or not list((root / "runs").rglob("config.toml"))


def data(root: Path) -> Path:
    return root / "data" / "tiny"


# --------------------------------------------------------------------------- comp train


@pytest.mark.parametrize("damage", ["garbage", "zero-byte", "truncated"])
def test_train_with_a_corrupt_image(tiny_competition, damage):
    bad = data(tiny_competition) / "train" / "circle" / "0003.png"
    if damage == "garbage":
        bad.write_bytes(b"not a png" * 20)
    elif damage == "zero-byte":
        bad.write_bytes(b"")
    else:
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(bad, format="PNG")
        bad.write_bytes(bad.read_bytes()[:900])
    result = invoke(*TRAIN)
    error_line(result, "data/tiny/train/circle/0003.png", "cannot decode image")
    assert_no_run(tiny_competition)
    assert not list(tiny_competition.rglob("*.npy"))  # no cache of the failed decode


def test_train_with_a_corrupt_test_image(tiny_competition):
    bad = data(tiny_competition) / "test" / "TEST_004.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    error_line(invoke(*TRAIN), "data/tiny/test/TEST_004.png", "cannot decode image")
    assert_no_run(tiny_competition)
    assert not list(tiny_competition.rglob("test-*.npy"))


def test_train_with_an_empty_class_folder(tiny_competition):
    (data(tiny_competition) / "train" / "triangle").mkdir()
    error_line(invoke(*TRAIN), "data/tiny/train/triangle", "class folder has no images")
    assert_no_run(tiny_competition)


def _break_sample(root: Path) -> None:
    ids = [f"TEST_{i:03d}" for i in range(8)] + ["TEST_999"]
    pd.DataFrame({"id": ids, "target": "circle"}).to_csv(data(root) / "sample_submission.csv", index=False)


def test_train_with_a_sample_submission_whose_ids_do_not_match(tiny_competition):
    _break_sample(tiny_competition)
    error_line(invoke(*TRAIN), "sample_submission.csv", "ids do not match the test images", "'TEST_999'",
               "'TEST_008'")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_recipe(tiny_competition):
    result = invoke("train", "-c", "tiny", "-r", "tinny", "--executor", "inline")
    error_line(result, "unknown recipe 'tinny'", "Did you mean 'tiny'?")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_competition(tiny_competition):
    result = invoke("train", "-c", "tinyy", "-r", "tiny", "--executor", "inline")
    error_line(result, "unknown competition 'tinyy'", "Did you mean 'tiny'?")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_set_key(tiny_competition):
    result = invoke(*TRAIN, "--set", "train.epoch=1")
    error_line(result, "recipes/tiny.toml", "unknown key 'train.epoch'", "Did you mean 'train.epochs'?")
    assert_no_run(tiny_competition)


@pytest.mark.parametrize("override, fragment", [
    ("train.epochs=[1,", "does not parse as TOML"),
    ("train.epochs", "expected key=value"),
    ("train.epochs=many", "train.epochs must be an integer. Received: train.epochs='many'"),
])
def test_train_with_a_set_that_does_not_parse(tiny_competition, override, fragment):
    error_line(invoke(*TRAIN, "--set", override), fragment)
    assert_no_run(tiny_competition)


def test_train_with_zero_folds(tiny_competition):
    error_line(invoke(*TRAIN, "--folds", "0"), "--folds must be 1 or more. Received: --folds=0")
    assert_no_run(tiny_competition)


def test_train_with_more_folds_than_images(tiny_competition):
    error_line(invoke(*TRAIN, "--folds", "40"), "--folds 40 is more than the 36 training images")
    assert_no_run(tiny_competition)


def test_train_with_more_folds_than_any_class_has_images(tiny_competition):
    error_line(invoke(*TRAIN, "--folds", "13"), "--folds 13: every class has fewer than 13 images")
    assert_no_run(tiny_competition)


def test_train_with_a_data_folder_that_does_not_exist(tiny_competition):
    result = invoke(*TRAIN, "--data", "data/nowhere")
    error_line(result, "data/nowhere", "data folder not found for competition 'tiny'")
    assert_no_run(tiny_competition)


def test_train_with_a_spec_that_is_not_valid_toml(tiny_competition):
    spec = tiny_competition / "competition" / "broken.toml"
    spec.write_text('name = "broken"\n[data\nroot = "data/tiny"\n')
    result = invoke("train", "-c", "broken", "-r", "tiny", "--executor", "inline")
    error_line(result, "broken.toml", "TOML syntax error")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_key_in_the_spec(tiny_competition):
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace('layout = "class-folders"', 'layot = "class-folders"'))
    error_line(invoke(*TRAIN), "tiny.toml", "unknown key 'data.layot'", "Did you mean 'data.layout'?")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_model_option(tiny_competition):
    error_line(invoke(*TRAIN, "--set", "model.widht=8"), "unknown key 'model.widht'", "Did you mean 'model.widths'?")
    assert_no_run(tiny_competition)


@pytest.mark.parametrize("override, fragments", [
    ("model.name=vgj", ("unknown model 'vgj'", "Did you mean 'vgg'?")),
    ("augment.preset=hevy", ("unknown augment.preset 'hevy'", "Did you mean 'heavy'?")),
    ("predict.tta=flips", ("predict.tta must be one of 'none', 'flip', 'flip-shift'", "Did you mean 'flip'?")),
    ("train.optimizer=adam", ("train.optimizer must be one of 'sgd', 'adamw'", "Received: train.optimizer='adam'")),
])
def test_train_with_an_unknown_name_in_the_recipe(tiny_competition, override, fragments):
    error_line(invoke(*TRAIN, "--set", override), *fragments)
    assert_no_run(tiny_competition)


def test_train_holdout_with_a_bad_val_fraction(tiny_competition):
    error_line(invoke(*TRAIN, "--folds", "1", "--val-fraction", "1.5"),
               "--val-fraction must be between 0 and 1. Received: --val-fraction=1.5")
    assert_no_run(tiny_competition)


def test_train_a_fold_outside_the_run(tiny_competition):
    error_line(invoke(*TRAIN, "--folds", "2", "--fold", "5"), "--fold must be in [0, 1]", "Received: --fold=5")
    assert not list(tiny_competition.glob("runs/*/*/fold-*"))


# --------------------------------------------------------------------------- comp predict, validate


def test_predict_without_runs(tiny_competition):
    error_line(invoke("predict", "-c", "tiny"), "no runs of 'tiny'", "comp train --competition tiny")


def test_predict_with_an_unknown_run(tiny_competition):
    error_line(invoke("predict", "-c", "tiny", "--run", "nope"), "run 'nope' not found in runs/tiny")


def test_predict_with_a_sample_submission_whose_ids_do_not_match(tiny_competition):
    trained = invoke(*TRAIN, "--folds", "2", "--run", "r", "--set", "train.epochs=1")
    assert trained.exit_code == 0, trained.output
    _break_sample(tiny_competition)
    result = invoke("predict", "-c", "tiny", "--ensemble")
    error_line(result, "sample_submission.csv", "ids do not match the test images", "'TEST_999'")
    assert not (tiny_competition / "submissions").exists() or not any((tiny_competition / "submissions").iterdir())


def test_validate_a_csv_with_wrong_ids(tiny_competition):
    csv = tiny_competition / "mine.csv"
    ids = [f"TEST_{i:03d}" for i in range(8)] + ["TEST_999"]
    pd.DataFrame({"id": ids, "target": "circle"}).to_csv(csv, index=False)
    result = invoke("validate", str(csv), "-c", "tiny")
    error_line(result, str(csv), "id 'TEST_999' is not in", "sample_submission.csv")
    assert result.stdout == ""


def test_validate_a_csv_with_an_unknown_class(tiny_competition):
    csv = tiny_competition / "mine.csv"
    ids = [f"TEST_{i:03d}" for i in range(9)]
    pd.DataFrame({"id": ids, "target": ["circle"] * 8 + ["hexagon"]}).to_csv(csv, index=False)
    error_line(invoke("validate", str(csv), "-c", "tiny"), "target 'hexagon' (id 'TEST_008') is not a valid class name")


def test_validate_a_csv_that_does_not_exist(tiny_competition):
    error_line(invoke("validate", "nothing.csv", "-c", "tiny"), "nothing.csv: file not found")


def test_score_with_missing_answers(tiny_competition):
    csv = tiny_competition / "mine.csv"
    pd.DataFrame({"id": ["TEST_000"], "target": "circle"}).to_csv(csv, index=False)
    error_line(invoke("score", str(csv), "--answers", "no-answers.csv", "-c", "tiny"), "no-answers.csv: file not found")


# --------------------------------------------------------------------------- checked before any work


def test_a_fold_outside_the_run_is_refused_before_any_decoding(tiny_competition):
    result = invoke(*TRAIN, "--folds", "2", "--fold", "2")
    error_line(result, "--fold must be in [0, 1] with --folds 2", "Received: --fold=2")
    assert_no_run(tiny_competition)
    assert not (tiny_competition / "data" / ".cache").exists()  # nothing decoded


def test_debug_shows_the_traceback_of_a_bad_input(tiny_competition):
    plain = invoke(*TRAIN, "--set", "model.name=vgj")
    assert plain.exit_code == 2 and "Traceback" not in plain.output
    debug = invoke("--debug", *TRAIN, "--set", "model.name=vgj")
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.stderr and "CompError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: unknown model 'vgj'")
