"""Bad input through the CLI: exit status 2, one `error:` line that names the culprit, no traceback,
and nothing half-written (no submission CSV, no temporary files, no half-trained fold)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image


# --------------------------------------------------------------------------- comp train


@pytest.mark.parametrize("damage", ["garbage", "zero-byte", "truncated"])
def test_train_with_a_corrupt_image(tiny_competition, damage, cli, train_args, error_line, assert_no_run):
    bad = tiny_competition / "data" / "tiny" / "train" / "circle" / "0003.png"
    if damage == "garbage":
        bad.write_bytes(b"not a png" * 20)
    elif damage == "zero-byte":
        bad.write_bytes(b"")
    else:
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(bad, format="PNG")
        bad.write_bytes(bad.read_bytes()[:900])
    result = cli(*train_args)
    error_line(result, "data/tiny/train/circle/0003.png", "cannot decode image")
    assert_no_run(tiny_competition)
    assert not list(tiny_competition.rglob("*.npy"))  # no cache of the failed decode


def test_train_with_a_corrupt_test_image(tiny_competition, cli, train_args, error_line, assert_no_run):
    bad = tiny_competition / "data" / "tiny" / "test" / "TEST_004.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    error_line(cli(*train_args), "data/tiny/test/TEST_004.png", "cannot decode image")
    assert_no_run(tiny_competition)
    assert not list(tiny_competition.rglob("test-*.npy"))


def test_train_with_an_empty_class_folder(tiny_competition, cli, train_args, error_line, assert_no_run):
    (tiny_competition / "data" / "tiny" / "train" / "triangle").mkdir()
    error_line(cli(*train_args), "data/tiny/train/triangle", "class folder has no images")
    assert_no_run(tiny_competition)


def _break_sample(root: Path) -> None:
    ids = [f"TEST_{i:03d}" for i in range(8)] + ["TEST_999"]
    pd.DataFrame({"id": ids, "target": "circle"}).to_csv(root / "data" / "tiny" / "sample_submission.csv", index=False)


def test_train_with_a_sample_submission_whose_ids_do_not_match(tiny_competition, cli, train_args, error_line,
                                                               assert_no_run):
    _break_sample(tiny_competition)
    error_line(cli(*train_args), "sample_submission.csv", "ids do not match the test images", "'TEST_999'",
               "'TEST_008'")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_recipe(tiny_competition, cli, error_line, assert_no_run):
    result = cli("train", "-c", "tiny", "-r", "tinny", "--executor", "inline")
    error_line(result, "unknown recipe 'tinny'", "Did you mean 'tiny'?")
    assert_no_run(tiny_competition)


def test_train_without_a_recipe_names_the_default_and_why_in_its_first_line(tiny_competition, cli, error_line):
    from comp.cli.app import DEFAULT_RECIPE

    result = cli("train", "-c", "tiny", "--folds", "2", "--fold", "5", "--executor", "inline")
    error_line(result, "--fold", only_line=False)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"recipe {DEFAULT_RECIPE}, the default: the most accurate recipe in its own time")
    assert "--recipe fast-deep" in first
    named = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--fold", "5", "--executor", "inline")
    assert "the default" not in named.stderr


def test_train_with_an_unknown_competition(tiny_competition, cli, error_line, assert_no_run):
    result = cli("train", "-c", "tinyy", "-r", "tiny", "--executor", "inline")
    error_line(result, "unknown competition 'tinyy'", "Did you mean 'tiny'?")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_set_key(tiny_competition, cli, train_args, error_line, assert_no_run):
    result = cli(*train_args, "--set", "train.epoch=1")
    error_line(result, "recipes/tiny.toml", "unknown key 'train.epoch'", "Did you mean 'train.epochs'?")
    assert_no_run(tiny_competition)


@pytest.mark.parametrize("override, fragment", [
    ("train.epochs=[1,", "does not parse as TOML"),
    ("train.epochs", "expected key=value"),
    ("train.epochs=many", "train.epochs must be an integer. Received: train.epochs='many'"),
])
def test_train_with_a_set_that_does_not_parse(tiny_competition, override, fragment, cli, train_args, error_line,
                                              assert_no_run):
    error_line(cli(*train_args, "--set", override), fragment)
    assert_no_run(tiny_competition)


def test_train_with_zero_folds(tiny_competition, cli, train_args, error_line, assert_no_run):
    error_line(cli(*train_args, "--folds", "0"), "--folds must be at least 1. Received: --folds=0")
    assert_no_run(tiny_competition)


def test_train_with_more_folds_than_images(tiny_competition, cli, train_args, error_line, assert_no_run):
    error_line(cli(*train_args, "--folds", "40"), "--folds 40 is more than the 36 training images")
    assert_no_run(tiny_competition)


def test_train_with_more_folds_than_any_class_has_images(tiny_competition, cli, train_args, error_line, assert_no_run):
    error_line(cli(*train_args, "--folds", "13"), "--folds 13: every class has fewer than 13 images")
    assert_no_run(tiny_competition)


def test_train_with_a_data_folder_that_does_not_exist(tiny_competition, cli, train_args, error_line, assert_no_run):
    result = cli(*train_args, "--data", "data/nowhere")
    error_line(result, "data/nowhere", "data folder not found for competition 'tiny'")
    assert_no_run(tiny_competition)


def test_train_with_a_spec_that_is_not_valid_toml(tiny_competition, cli, error_line, assert_no_run):
    spec = tiny_competition / "competition" / "broken.toml"
    spec.write_text('name = "broken"\n[data\nroot = "data/tiny"\n')
    result = cli("train", "-c", "broken", "-r", "tiny", "--executor", "inline")
    error_line(result, "broken.toml", "TOML syntax error")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_key_in_the_spec(tiny_competition, cli, train_args, error_line, assert_no_run):
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace('layout = "class-folders"', 'layot = "class-folders"'))
    error_line(cli(*train_args), "tiny.toml", "unknown key 'data.layot'", "Did you mean 'data.layout'?")
    assert_no_run(tiny_competition)


def test_train_with_an_unknown_model_option(tiny_competition, cli, train_args, error_line, assert_no_run):
    error_line(cli(*train_args, "--set", "model.widht=8"), "unknown key 'model.widht'", "Did you mean 'model.widths'?")
    assert_no_run(tiny_competition)


@pytest.mark.parametrize("override, fragments", [
    ("model.name=vgj", ("unknown model 'vgj'", "Did you mean 'vgg'?")),
    ("augment.preset=hevy", ("unknown augment.preset 'hevy'", "Did you mean 'heavy'?")),
    ("predict.tta=flips", ("predict.tta must be one of 'none', 'flip', 'flip-shift'", "Did you mean 'flip'?")),
    ("train.optimizer=adam", ("train.optimizer must be one of 'sgd', 'adamw'", "Received: train.optimizer='adam'")),
])
def test_train_with_an_unknown_name_in_the_recipe(tiny_competition, override, fragments, cli, train_args, error_line,
                                                  assert_no_run):
    error_line(cli(*train_args, "--set", override), *fragments)
    assert_no_run(tiny_competition)


def test_train_holdout_with_a_bad_val_fraction(tiny_competition, cli, train_args, error_line, assert_no_run):
    error_line(cli(*train_args, "--folds", "1", "--val-fraction", "1.5"),
               "--val-fraction must be in (0, 1). Received: --val-fraction=1.5")
    assert_no_run(tiny_competition)


def test_train_a_fold_outside_the_run(tiny_competition, cli, train_args, error_line):
    error_line(cli(*train_args, "--folds", "2", "--fold", "5"), "--fold must be in [0, 1]", "Received: --fold=5")
    assert not list(tiny_competition.glob("runs/*/*/fold-*"))


# --------------------------------------------------------------------------- comp predict, validate


def test_predict_without_runs(tiny_competition, cli, error_line):
    error_line(cli("predict", "-c", "tiny"), "no runs of 'tiny'", "comp train --competition tiny")


def test_predict_with_an_unknown_run(tiny_competition, cli, error_line):
    error_line(cli("predict", "-c", "tiny", "--run", "nope"), "run 'nope' not found in runs/tiny")


def test_predict_with_a_sample_submission_whose_ids_do_not_match(tiny_competition, cli, train_args, error_line):
    trained = cli(*train_args, "--folds", "2", "--run", "r", "--set", "train.epochs=1")
    assert trained.exit_code == 0, trained.output
    _break_sample(tiny_competition)
    result = cli("predict", "-c", "tiny", "--ensemble")
    error_line(result, "sample_submission.csv", "ids do not match the test images", "'TEST_999'")
    assert not (tiny_competition / "submissions").exists() or not any((tiny_competition / "submissions").iterdir())


def test_validate_a_csv_with_wrong_ids(tiny_competition, cli, error_line):
    csv = tiny_competition / "mine.csv"
    ids = [f"TEST_{i:03d}" for i in range(8)] + ["TEST_999"]
    pd.DataFrame({"id": ids, "target": "circle"}).to_csv(csv, index=False)
    result = cli("validate", str(csv), "-c", "tiny")
    error_line(result, str(csv), "id 'TEST_999' is not in", "sample_submission.csv")
    assert result.stdout == ""


def test_validate_a_csv_with_an_unknown_class(tiny_competition, cli, error_line):
    csv = tiny_competition / "mine.csv"
    ids = [f"TEST_{i:03d}" for i in range(9)]
    pd.DataFrame({"id": ids, "target": ["circle"] * 8 + ["hexagon"]}).to_csv(csv, index=False)
    error_line(cli("validate", str(csv), "-c", "tiny"), "target 'hexagon' (id 'TEST_008') is not a valid class name")


def test_validate_a_csv_that_does_not_exist(tiny_competition, cli, error_line):
    error_line(cli("validate", "nothing.csv", "-c", "tiny"), "nothing.csv: file not found")


def test_score_with_missing_answers(tiny_competition, cli, error_line):
    csv = tiny_competition / "mine.csv"
    pd.DataFrame({"id": ["TEST_000"], "target": "circle"}).to_csv(csv, index=False)
    error_line(cli("score", str(csv), "--answers", "no-answers.csv", "-c", "tiny"), "no-answers.csv: file not found")


# --------------------------------------------------------------------------- checked before any work


def test_a_fold_outside_the_run_is_refused_before_any_decoding(tiny_competition, cli, train_args, error_line,
                                                               assert_no_run):
    result = cli(*train_args, "--folds", "2", "--fold", "2")
    error_line(result, "--fold must be in [0, 1] with --folds 2", "Received: --fold=2")
    assert_no_run(tiny_competition)
    assert not (tiny_competition / "data" / ".cache").exists()  # nothing decoded


def test_debug_shows_the_traceback_of_a_bad_input(tiny_competition, cli, train_args):
    plain = cli(*train_args, "--set", "model.name=vgj")
    assert plain.exit_code == 2 and "Traceback" not in plain.output
    debug = cli("--debug", *train_args, "--set", "model.name=vgj")
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.stderr and "CompError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: unknown model 'vgj'")


# --------------------------------------------------------------------------- every number of the CLI has a range


def _numeric_params():
    """(command path, parameter) of every int or float option and argument of every comp command."""
    import click

    from comp.cli import main

    def walk(group, path):
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                yield from walk(command, [*path, name])
                continue
            for param in command.params:
                if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)) or \
                        getattr(param.type, "name", "") in ("integer", "number"):
                    yield [*path, name], param

    return list(walk(main, []))


def test_every_number_of_the_cli_declares_a_bounded_range():
    from comp.cli.app import Number

    metric_scores = {"lb add public", "lb add private"}  # the metric's range (comp.metrics.RANGES): test_ledger.py
    loose = [f"{' '.join(path)} {param.name}" for path, param in _numeric_params()
             if f"{' '.join(path)} {param.name}" not in metric_scores and not isinstance(param.type, Number)
             or (isinstance(param.type, Number) and param.type.interval.kind.__name__ == "Integral"
                 and None in (param.type.interval.lo, param.type.interval.hi))]
    assert loose == []


def _outside(interval):
    """Values just outside an interval, and non-finite ones for a real one."""
    step = 1 if interval.kind.__name__ == "Integral" else 1e-9 * max(1.0, abs(interval.hi or interval.lo or 1))
    values = [] if interval.lo is None else [interval.lo - step if interval.lo_closed else interval.lo]
    values += [] if interval.hi is None else [interval.hi + step if interval.hi_closed else interval.hi]
    return values + ([] if interval.kind.__name__ == "Integral" else ["nan", "inf"])


@pytest.mark.parametrize("path, param", _numeric_params(), ids=lambda x: x if isinstance(x, str) else
                         (" ".join(x) if isinstance(x, list) else x.name))
def test_a_cli_number_outside_its_range_is_one_error_line(tiny_competition, cli, path, param):
    """Walks every numeric option: a value past either end, NaN and infinity, refused before any work."""
    from comp.cli.app import Number

    if not isinstance(param.type, Number):
        pytest.skip("a leaderboard score: its metric's range, checked by the ledger (tests/test_ledger.py)")
    flag = param.opts[0]
    if not flag.startswith("-"):
        pytest.skip("an argument: its command's other arguments come first (lb add CSV SCORE: tests/test_ledger.py)")
    for value in _outside(param.type.interval):
        args = [*path, flag, str(value)]
        result = cli(*args, catch=True)
        assert result.exit_code == 2, (args, result.output)
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith(f"error: {flag} must be ") and "Received:" in line, (args, line)
        assert "Traceback" not in result.output and not (tiny_competition / "runs").exists()
