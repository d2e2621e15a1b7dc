"""Readers for the competition layouts, and :func:`read_dataset`, which picks one by ``data.layout``.

Each reader turns a competition's files into a :class:`~comp.data.dataset.Dataset`: a train
table (id, path, label; and group where ``data.group_column`` is set), a test table (id, path) in
submission order, and the class names.

- ``class-folders`` (Dacon, plant-seedlings): ``train/<class>/<image>``, ``test/<image>``; train
  id = ``<class>/<stem>`` (``<class>/<name>`` where ``data.id_form`` is ``name``);
- ``csv-labels`` (Kaggle): ``train/<image>`` + a labels CSV (``data.label_columns``: id, label),
  ``test/<image>``; the labels are read as ``[target]`` says (:mod:`comp.data.labels`); where the
  train images lie in sub-folders (hotel-id: ``train_images/<chain>/<image>``), the ids name them
  there, at any depth (:func:`comp.data.ids.index_ids`);
- ``meta-lists`` (Food-101): ``images/<class>/<name>.<ext>`` + ``meta/{classes,train,test}.txt``
  (:mod:`comp.data.meta_lists`);
- ``file-names`` (dogs-vs-cats): ``train/cat.0.jpg``; the label is the first group of
  ``data.label_pattern`` searched in the file name; train id = the file's stem;
- ``coco-json`` (herbarium-2020): COCO metadata files (:mod:`comp.data.coco`).

Ids are strings throughout: ``00042`` stays ``00042``. An id of the labels CSV or the sample
submission names an image by stem or by full name, as ``data.id_form`` says (:mod:`comp.data.ids`);
the test rows are the sample's ids in its order (:mod:`comp.data.test_rows`).

A messy folder is read as :mod:`comp.data.checks` says: hidden files, ``Thumbs.db`` and
``desktop.ini`` are ignored; other non-image files, folders inside an image folder and special
files (pipes, sockets) are skipped with a warning; a link to a missing image, two images with
one id (anywhere under a csv-labels train folder), a class name with stray whitespace or an invisible character, two class names
that differ only in case or Unicode form, and an image or class folder named in bytes that are not
UTF-8 (or an image named with a newline) are errors. A labels CSV and a sample submission need
rows; the sample has the spec's id column and target columns and unique, non-empty ids.
:func:`read_dataset` wants at least two classes (regression: its one class name) and, for
``target.kind = "binary"``, exactly two, ``target.positive`` one of them; ``data.group_column``
only with ``csv-labels``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from comp.config.spec import Competition
from comp.data.checks import (FOLDER, IGNORED, IMAGE_EXTENSIONS, by_stem, check_class_line,  # noqa: F401
                              check_class_names, check_list_entry, check_name, check_unique, entries,
                              entry_kind, list_images, warn_skipped)
from comp.data.coco import read_coco_json
from comp.data.dataset import Dataset, class_order, read_csv_str, require_dir, subset_dataset  # noqa: F401
from comp.data.ids import images_by_id, index_ids
from comp.data.labels import cell_labels, check_binary, table_groups, table_labels
from comp.data.meta_lists import read_meta_lists
from comp.data.test_rows import read_test
from comp.errors import CompError


def read_class_folders(competition: Competition) -> Dataset:
    """Train rows from the class folders (label = the folder's name); test rows from the test folder."""
    train_dir = require_dir(competition.path("train"), "train")
    class_dirs, loose = [], []
    for p in entries(train_dir):
        kind = entry_kind(p)
        if kind == FOLDER:
            check_name(p, control=False)  # a class name: its control characters are check_class_names'
            class_dirs.append(p)
        elif kind != IGNORED:
            loose.append(p.name)
    warn_skipped(train_dir, {"file(s) outside a class folder": loose} if loose else {})
    if not class_dirs:
        raise CompError(f"{train_dir}: no class folders (expected train/<class>/<image>)")
    form = "name" if competition.data.id_form == "name" else "stem"
    rows = []
    for d in class_dirs:
        images = list_images(d)
        if not images:
            raise CompError(f"{d}: class folder has no images")
        # Train file names repeat across classes in the Dacon layout (0000.jpg in every folder).
        rows += [(f"{d.name}/{i}", str(p), d.name) for i, p in images_by_id(images, d, form).items()]
    train = pd.DataFrame(rows, columns=["id", "path", "label"])
    classes = class_order([d.name for d in class_dirs], competition, str(train_dir))
    return Dataset(train, read_test(competition, classes), classes)


def _labels_table(competition: Competition) -> tuple[Path, pd.DataFrame]:
    """The labels CSV, with its id column and label (or target.columns) columns, rows and unique ids."""
    labels_path = competition.path("labels")
    table = read_csv_str(labels_path)
    id_col, label_col = competition.data.label_columns
    needed = [(id_col, "data.label_columns")]
    needed += [(c, "target.columns") for c in competition.target.columns] or [(label_col, "data.label_columns")]
    for col, key in needed:
        if col not in table.columns:
            raise CompError(f"{labels_path}: missing column '{col}' ({key}). Columns: {', '.join(table.columns)}")
    if table.empty:
        raise CompError(f"{labels_path}: no rows (a header only); expected one '{id_col},{label_col}' row "
                        f"per training image")
    check_unique(table[id_col], str(labels_path))
    return labels_path, table


def read_csv_labels(competition: Competition) -> Dataset:
    """Train rows from the labels CSV, each id naming an image of the train folder; test rows from the test folder."""
    train_dir = require_dir(competition.path("train"), "train")
    labels_path, table = _labels_table(competition)
    ids = list(table[competition.data.label_columns[0]])
    index, where = index_ids(ids, train_dir, competition.data.id_form)
    missing = [i for i in ids if i not in index]
    if missing:
        raise CompError(f"{labels_path}: id '{missing[0]}' names no image in {train_dir}{where} "
                        f"({len(missing)} such id(s))")
    labels, classes = table_labels(table, competition, labels_path)
    train = pd.DataFrame({"id": ids, "path": [str(index[i]) for i in ids], "label": labels})
    if competition.data.group_column is not None:
        train["group"] = table_groups(table, competition, labels_path)
    return Dataset(train, read_test(competition, classes, train_dir), classes)


PATTERN_EXAMPLE = "'^(cat|dog)\\.' reads cat from cat.0.jpg"


def label_pattern(competition: Competition) -> re.Pattern:
    """``data.label_pattern`` compiled; it must have a group (the label)."""
    text = competition.data.label_pattern
    if text is None:
        raise CompError(f"layout 'file-names' needs data.label_pattern, a regular expression whose first group "
                        f"is the label ({PATTERN_EXAMPLE})")
    try:
        pattern = re.compile(text)
    except re.error as e:
        raise CompError(f"data.label_pattern {text!r} is not a regular expression ({e}); "
                        f"for example {PATTERN_EXAMPLE}") from None
    if pattern.groups < 1:
        raise CompError(f"data.label_pattern {text!r} has no group; put the label in parentheses "
                        f"({PATTERN_EXAMPLE})")
    return pattern


def read_file_names(competition: Competition) -> Dataset:
    """Train rows from the train folder's images, labelled by ``data.label_pattern``; test rows from the test folder."""
    train_dir = require_dir(competition.path("train"), "train")
    pattern = label_pattern(competition)
    images = list_images(train_dir)
    if not images:
        raise CompError(f"{train_dir}: train folder has no images")
    index = by_stem(images, train_dir)
    ids, found = list(index), []
    for p in index.values():
        match = pattern.search(p.name)
        if match is None or not match.group(1):
            problem = "does not match" if match is None else "gives an empty label with"
            raise CompError(f"{p}: the file name {problem} data.label_pattern {pattern.pattern!r}; its first "
                            f"group is the label")
        found.append(match.group(1))
    labels, classes = cell_labels(found, competition, str(train_dir), lambda row: f" (file {index[ids[row]].name})")
    train = pd.DataFrame({"id": ids, "path": [str(p) for p in index.values()], "label": labels})
    return Dataset(train, read_test(competition, classes, train_dir), classes)


READERS = {
    "class-folders": read_class_folders,
    "csv-labels": read_csv_labels,
    "meta-lists": read_meta_lists,
    "file-names": read_file_names,
    "coco-json": read_coco_json,
}
SOURCES = {"csv-labels": "labels", "meta-lists": "classes", "coco-json": "train_metadata"}  # where classes are read


def read_dataset(competition: Competition) -> Dataset:
    """Read a competition's data; the data root must exist (see comp.data.demo for builders)."""
    if not competition.root.is_dir():
        raise CompError(f"{competition.root}: data folder not found for competition '{competition.name}' "
                        f"(put the data there or pass --data PATH)")
    if competition.data.group_column is not None and competition.data.layout != "csv-labels":
        raise CompError(f"data.group_column names a column of the labels CSV (layout 'csv-labels'); layout "
                        f"'{competition.data.layout}' has none: remove data.group_column")
    dataset = READERS[competition.data.layout](competition)
    if competition.target.kind != "regression" and len(dataset.class_names) < 2:
        raise CompError(f"{competition.root}: found {len(dataset.class_names)} class(es); need at least 2")
    check_binary(dataset.class_names, competition, str(competition.path(SOURCES.get(competition.data.layout,
                                                                                   "train"))))
    return dataset
