"""A run's data, read again: the training set it was made from, checked unchanged.

A run's folds.csv, out-of-fold predictions and fold models index its training images by row.
Whatever reads the data again for an existing run (a fold trained in another process,
``comp train`` reopening a run, ``comp report``'s mistakes grid) must find the same classes, ids
and labels (:func:`check_same_training_set`) and the same files (:func:`check_same_files`), or
its scores and pictures would belong to other images. :func:`reopen_data` does all of it.

Example::

    dataset = reopen_data(run)  # its --subset draw, if any; CompError if the data changed
    x_train = load_train_images(run.competition, dataset, run.subset)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from comp.data.demo import ensure_data
from comp.data.images import data_fingerprint
from comp.data.layouts import Dataset, read_dataset, subset_dataset
from comp.errors import CompError

if TYPE_CHECKING:
    from comp.runs.run import Run

RESTART = "pass --restart or a new --run"  # what comp train can do about changed data


def read_data(competition, subset: int, seed: int) -> Dataset:
    """The competition's data (fetched first where it is a demo), limited to ``subset`` training
    images per class (a draw seeded by ``seed``) where ``subset`` is set."""
    ensure_data(competition)
    dataset = read_dataset(competition)
    return subset_dataset(dataset, subset, seed) if subset else dataset


def _advise(advice: str) -> str:
    return f"; {advice}" if advice else ""


def check_same_training_set(run: Run, dataset: Dataset, advice: str = RESTART) -> None:
    """The run's classes, training ids and labels must still be the data's: its folds and
    out-of-fold scores index them. ``advice`` ends each message."""
    if run.class_names != dataset.class_names:
        raise CompError(f"{run.dir}/classes.json: the run's classes {run.class_names} differ from "
                        f"the data's {dataset.class_names}{_advise(advice)}")
    saved = run.fold_table()
    if list(saved["id"]) != list(dataset.train["id"]):
        raise CompError(f"{run.dir}/folds.csv: the training images changed since this run started{_advise(advice)}")
    moved = (saved["label"].to_numpy() != dataset.train["label"].to_numpy()).nonzero()[0]
    if len(moved):
        i = moved[0]
        raise CompError(f"{run.dir}/folds.csv: {len(moved)} training label(s) changed since this run started "
                        f"(id '{saved['id'][i]}': '{saved['label'][i]}' -> '{dataset.train['label'].iloc[i]}')"
                        f"{_advise(advice)}")


def check_same_files(run: Run, fingerprint: str, advice: str = RESTART) -> None:
    """Same ids and labels, but other files (sizes, modification times): the folds' models saw other images.
    Runs older than the fingerprint have none saved, and pass."""
    saved = run.config.data_fingerprint
    if saved and saved != fingerprint:
        raise CompError(f"{run.dir}: the training files changed since this run started (same ids and labels, "
                        f"other sizes or modification times){_advise(advice)}")


def reopen_data(run: Run, advice: str = RESTART) -> Dataset:
    """The run's data as it was read when the run started (its ``--subset`` draw, with its split
    seed), checked unchanged: classes, ids, labels and files. ``advice`` ends the messages."""
    dataset = read_data(run.competition, run.subset, run.split_seed)
    check_same_training_set(run, dataset, advice)
    check_same_files(run, data_fingerprint(run.competition, dataset), advice)
    return dataset
