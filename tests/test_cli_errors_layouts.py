"""Bad input through the CLI for the csv-labels layout and the spec's types: exit 2, one line, no run."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from tests.test_cli_errors import TRAIN, assert_no_run, data, error_line, invoke

CSV_SPEC = """\
name = "tiny"
metric = "accuracy"

[data]
root = "data/tiny"
layout = "csv-labels"
train = "flat"
labels = "labels.csv"
label_columns = ["id", "label"]
sample_submission = "sample_submission.csv"
image_size = [12, 12]
"""


@pytest.fixture
def csv_competition(tiny_competition):
    """The tiny data re-laid as Kaggle csv-labels: flat/<id>.png + labels.csv (ids with leading zeros)."""
    root = data(tiny_competition)
    rows = []
    (root / "flat").mkdir()
    for n, png in enumerate(sorted((root / "train").rglob("*.png"))):
        shutil.copy(png, root / "flat" / f"{n:05d}.png")
        rows.append((f"{n:05d}", png.parent.name))
    pd.DataFrame(rows, columns=["id", "label"]).to_csv(root / "labels.csv", index=False)
    (tiny_competition / "competition" / "tiny.toml").write_text(CSV_SPEC)
    return tiny_competition


def _labels(root) -> pd.DataFrame:
    return pd.read_csv(data(root) / "labels.csv", dtype=str)


def test_csv_layout_trains(csv_competition):
    res = invoke(*TRAIN, "--folds", "2", "--fold", "0", "--set", "train.epochs=1")
    assert res.exit_code == 0, res.output
    ids = pd.read_csv(csv_competition / "runs" / "tiny" / res.stdout.strip().split("/")[-1] / "folds.csv",
                      dtype=str)["id"]
    assert ids.iloc[0] == "00000"  # leading zeros kept


def test_labels_csv_naming_an_unknown_file(csv_competition):
    table = _labels(csv_competition)
    table.loc[3, "id"] = "99999"
    table.to_csv(data(csv_competition) / "labels.csv", index=False)
    error_line(invoke(*TRAIN), "labels.csv", "id '99999' names no image")
    assert_no_run(csv_competition)


def test_labels_csv_with_a_missing_column(csv_competition):
    _labels(csv_competition).rename(columns={"label": "class"}).to_csv(data(csv_competition) / "labels.csv",
                                                                      index=False)
    error_line(invoke(*TRAIN), "labels.csv", "missing column 'label'")
    assert_no_run(csv_competition)


def test_labels_csv_with_duplicate_ids(csv_competition):
    table = _labels(csv_competition)
    table.loc[5, "id"] = table.loc[4, "id"]
    table.to_csv(data(csv_competition) / "labels.csv", index=False)
    error_line(invoke(*TRAIN), "labels.csv", "duplicate id", table.loc[4, "id"])
    assert_no_run(csv_competition)


@pytest.mark.parametrize("line, fragments", [
    ('image_size = "big"', ["data.image_size must be a list of integers", "Received: data.image_size='big'"]),
    ('layout = "zip-archive"', ["data.layout must be one of", "Received: data.layout='zip-archive'"]),
])
def test_spec_with_a_wrong_type_or_an_unknown_layout(csv_competition, line, fragments):
    spec = csv_competition / "competition" / "tiny.toml"
    key = line.split(" = ")[0]
    text = "\n".join(line if row.startswith(f"{key} = ") else row for row in spec.read_text().splitlines())
    spec.write_text(text + "\n")
    error_line(invoke(*TRAIN), "competition/tiny.toml", *fragments)
    assert_no_run(csv_competition)


def test_a_class_with_fewer_images_than_folds_warns_then_trains(tiny_competition):
    small = data(tiny_competition) / "train" / "square"
    for png in sorted(small.glob("*.png"))[2:]:
        png.unlink()
    res = invoke(*TRAIN, "--folds", "3", "--fold", "0", "--set", "train.epochs=1")
    assert res.exit_code == 0, res.output
    assert "warning: the smallest class has 2 image(s), fewer than --folds 3" in res.stderr
