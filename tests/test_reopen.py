"""comp.runs.data.reopen_data: a run's data read again (its --subset draw with its split seed) and
checked unchanged (classes, ids, labels, files), for comp train-fold (kfold.load_fold) and comp
report's mistakes grid alike."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from comp.errors import CompError
from comp.runs.data import reopen_data
from comp.runs.run import open_run


@pytest.fixture
def trained(cli, train_args):
    """``trained(run_id, *args)``: fold 0 of a 2-fold run of the tiny recipe, one epoch; the run."""
    def train(run_id: str, *args: str):
        result = cli(*train_args, "--folds", "2", "--fold", "0", "--run", run_id, "--set", "train.epochs=1", *args)
        assert result.exit_code == 0, result.output
        return open_run("tiny", run_id)

    return train


def test_an_unchanged_run_reopens_its_subset_draw(tiny_competition, trained):
    run = trained("sub", "--subset", "5")
    dataset = reopen_data(run)
    table = run.fold_table()
    assert len(dataset.train) == 15 and list(dataset.train["id"]) == list(table["id"])
    assert list(dataset.train["label"]) == list(table["label"]) and dataset.class_names == run.class_names


def test_reopen_refuses_a_changed_label_in_training_and_in_the_report(csv_competition, trained):
    from comp.report.page import _train_images
    from comp.train.kfold import load_fold

    run = trained("l")
    labels = csv_competition / "data" / "tiny" / "labels.csv"
    table = pd.read_csv(labels, dtype=str)
    old = table.loc[4, "label"]
    table.loc[4, "label"] = "stripe" if old != "stripe" else "circle"  # a corrected label
    table.to_csv(labels, index=False)
    message = (f"runs/tiny/l/folds.csv: 1 training label(s) changed since this run started "
               f"(id '00004': '{old}' -> '{table.loc[4, 'label']}')")
    with pytest.raises(CompError) as e:
        reopen_data(run)
    assert str(e.value) == f"{message}; pass --restart or a new --run"
    with pytest.raises(CompError, match="1 training label"):
        load_fold(run, 1)
    images, why = _train_images(run)
    assert images is None and why == message  # the report's note: no advice to retrain


def test_reopen_refuses_changed_files_with_the_same_ids_and_labels(tiny_competition, trained):
    run = trained("f")
    png = sorted((tiny_competition / "data" / "tiny" / "train").rglob("*.png"))[0]
    stat = png.stat()
    os.utime(png, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(CompError, match=r"runs/tiny/f: the training files changed since this run started "
                                        r"\(same ids and labels, other sizes or modification times\); "
                                        r"pass --restart or a new --run"):
        reopen_data(run)


def test_reopen_refuses_other_classes(tiny_competition, trained):
    run = trained("c")
    train = tiny_competition / "data" / "tiny" / "train"
    (train / "stripe").rename(train / "zigzag")
    with pytest.raises(CompError, match=r"runs/tiny/c/classes.json: the run's classes .* differ from the data's"):
        reopen_data(run, advice="")
