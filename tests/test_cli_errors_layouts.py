"""Bad input through the CLI for the csv-labels layout and the spec's types: exit 2, one line, no run."""

from __future__ import annotations

import pandas as pd
import pytest


def _labels(root) -> pd.DataFrame:
    return pd.read_csv(root / "data" / "tiny" / "labels.csv", dtype=str)


def test_csv_layout_trains(csv_competition, cli, train_args):
    res = cli(*train_args, "--folds", "2", "--fold", "0", "--set", "train.epochs=1")
    assert res.exit_code == 0, res.output
    ids = pd.read_csv(csv_competition / "runs" / "tiny" / res.stdout.strip().split("/")[-1] / "folds.csv",
                      dtype=str)["id"]
    assert ids.iloc[0] == "00000"  # leading zeros kept


def test_labels_csv_naming_an_unknown_file(csv_competition, cli, train_args, error_line, assert_no_run):
    table = _labels(csv_competition)
    table.loc[3, "id"] = "99999"
    table.to_csv(csv_competition / "data" / "tiny" / "labels.csv", index=False)
    error_line(cli(*train_args), "labels.csv", "id '99999' names no image")
    assert_no_run(csv_competition)


def test_labels_csv_with_a_missing_column(csv_competition, cli, train_args, error_line, assert_no_run):
    labels = csv_competition / "data" / "tiny" / "labels.csv"
    _labels(csv_competition).rename(columns={"label": "class"}).to_csv(labels, index=False)
    error_line(cli(*train_args), "labels.csv", "missing column 'label'")
    assert_no_run(csv_competition)


def test_labels_csv_with_duplicate_ids(csv_competition, cli, train_args, error_line, assert_no_run):
    table = _labels(csv_competition)
    table.loc[5, "id"] = table.loc[4, "id"]
    table.to_csv(csv_competition / "data" / "tiny" / "labels.csv", index=False)
    error_line(cli(*train_args), "labels.csv", "duplicate id", table.loc[4, "id"])
    assert_no_run(csv_competition)


@pytest.mark.parametrize("line, fragments", [
    ('image_size = "big"', ["data.image_size must be a list of integers", "Received: data.image_size='big'"]),
    ('layout = "zip-archive"', ["data.layout must be one of", "Received: data.layout='zip-archive'"]),
])
def test_spec_with_a_wrong_type_or_an_unknown_layout(csv_competition, line, fragments, cli, train_args, error_line,
                                                     assert_no_run):
    spec = csv_competition / "competition" / "tiny.toml"
    key = line.split(" = ")[0]
    text = "\n".join(line if row.startswith(f"{key} = ") else row for row in spec.read_text().splitlines())
    spec.write_text(text + "\n")
    error_line(cli(*train_args), "competition/tiny.toml", *fragments)
    assert_no_run(csv_competition)


def test_a_class_with_fewer_images_than_folds_warns_then_trains(tiny_competition, cli, train_args):
    small = tiny_competition / "data" / "tiny" / "train" / "square"
    for png in sorted(small.glob("*.png"))[2:]:
        png.unlink()
    res = cli(*train_args, "--folds", "3", "--fold", "0", "--set", "train.epochs=1")
    assert res.exit_code == 0, res.output
    assert "warning: the smallest class has 2 image(s), fewer than --folds 3" in res.stderr
