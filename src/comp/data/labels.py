"""Labels and class names from a labels table's columns, as ``[target]`` says how to read them.

- one label per row (kinds class, binary, class-probabilities, grade, top-k): the cell, as is;
  class names sorted, as numbers where every one is a number;
- ``target.columns`` (one 0/1 column per class: plant-pathology-2020, ranzcr): the class names are
  those columns, in that order; a row holds exactly one 1 (its label is that column's name), or,
  for multi-label, any number (the names of the columns holding 1, joined by ``target.separator``;
  none: ``""``). A value other than 0/1 (0.0/1.0) is refused;
- multi-label from one column (imet's ``attribute_ids``): the cell split on ``target.separator``,
  duplicates dropped, sorted as the class names and joined again; the class names are the union;
- regression: a number per row, kept as written; the one class name is the label column's name.

``data.class_names`` orders the class names where set. Each refusal is one line naming the file,
the row's line and id (``at``) and what is accepted.

Example::

    labels, classes = table_labels(table, competition, labels_path)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from comp.config.spec import Competition
from comp.data.dataset import class_order, is_number, sort_names
from comp.errors import CompError

ONE_HOT = {"0": False, "1": True, "0.0": False, "1.0": True}

Locate = Callable[[int], str]  # a row's position -> " (id 'x', line n)"


def _first_rows(cells: list[list[str]]) -> dict[str, int]:
    """Each label's first row."""
    first: dict[str, int] = {}
    for row, labels in enumerate(cells):
        for label in labels:
            first.setdefault(label, row)
    return first


def _regression(cells: list[str], competition: Competition, where: str, at: Locate) -> tuple[list[str], list[str]]:
    for row, cell in enumerate(cells):
        if not is_number(cell):
            raise CompError(f"{where}: label {cell!r}{at(row)} is not a number; target.kind 'regression' "
                            f"needs a number (such as 3, -0.5 or 1e3) in every row")
    return list(cells), [competition.data.label_columns[1]]


def _multi_label(cells: list[str], competition: Competition, where: str, at: Locate) -> tuple[list[str], list[str]]:
    separator = competition.target.separator
    if separator == "":
        raise CompError(f"{where}: target.separator is empty; it separates the labels of one cell (a space: ' ')")
    split = [[p for p in dict.fromkeys(cell.split(separator)) if p != ""] for cell in cells]
    first = _first_rows(split)
    classes = class_order(sorted(first), competition, where, lambda n: at(first[n]), sort_names)
    index = {name: i for i, name in enumerate(classes)}
    return [separator.join(sorted(pieces, key=index.__getitem__)) for pieces in split], classes


def cell_labels(cells: list[str], competition: Competition, where: str, at: Locate) -> tuple[list[str], list[str]]:
    """Labels and class names from one label per row (``cells``, none empty) as ``target.kind`` reads them."""
    if competition.target.kind == "regression":
        return _regression(cells, competition, where, at)
    if competition.target.kind == "multi-label":
        return _multi_label(cells, competition, where, at)
    first = _first_rows([[c] for c in cells])
    # grades in their numeric order (2 before 10: the cut points need it); other classes as text,
    # the order runs of csv-labels data have always had
    order = sort_names if competition.target.kind == "grade" else sorted
    return list(cells), class_order(sorted(first), competition, where, lambda n: at(first[n]), order)


def _hot(table: pd.DataFrame, columns: list[str], path: Path, at: Locate) -> pd.DataFrame:
    """The one-hot columns as booleans; a value other than 0/1 is refused."""
    for col in columns:
        bad = ~table[col].isin(ONE_HOT)
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise CompError(f"{path}: column '{col}' holds {table[col].iloc[row]!r}{at(row)}; the columns of "
                            f"target.columns hold 0 or 1 (or 0.0, 1.0)")
    return pd.DataFrame({col: table[col].map(ONE_HOT) for col in columns})


def _one_hot(table: pd.DataFrame, competition: Competition, path: Path, at: Locate) -> tuple[list[str], list[str]]:
    kind, columns = competition.target.kind, list(competition.target.columns)
    if kind == "regression":
        raise CompError(f"{path}: target.columns is set but target.kind 'regression' reads one number per row "
                        f"from data.label_columns; remove target.columns")
    classes = class_order(columns, competition, str(path), order=list)
    order = [c for c in classes if c in columns]
    hot = _hot(table, order, path, at).to_numpy()
    if kind != "multi-label":
        counts = hot.sum(axis=1)
        if (counts != 1).any():
            row = int((counts != 1).argmax())
            held = [c for c, v in zip(order, hot[row]) if v]
            found = f"{len(held)} columns hold 1 ({', '.join(held)})" if held else "no column holds 1"
            raise CompError(f"{path}: {found}{at(row)}; target.kind '{kind}' needs exactly one 1 per row among "
                            f"target.columns (several labels per row: target.kind 'multi-label')")
    separator = competition.target.separator
    if kind == "multi-label":  # the labels of a row are written as one cell: no name may hold the separator
        holding = [c for c in order if separator in c]
        if holding:
            raise CompError(f"{path}: column '{holding[0]}' of target.columns holds target.separator "
                            f"{separator!r}; set target.separator to a character no column name holds (e.g. '|')")
    return [separator.join(c for c, v in zip(order, row) if v) for row in hot], classes


def table_labels(table: pd.DataFrame, competition: Competition, path: Path) -> tuple[list[str], list[str]]:
    """Each row's label and the class names of a labels table (see the module's docstring); the
    label column holds no empty cell where it is read."""
    id_col, label_col = competition.data.label_columns
    ids = list(table[id_col])

    def at(row: int) -> str:
        return f" (id '{ids[row]}', line {row + 2})"

    if competition.target.columns:
        return _one_hot(table, competition, path, at)
    empty = table[label_col].str.strip() == ""
    if empty.any():
        raise CompError(f"{path}: empty label for id '{table[id_col][empty].iloc[0]}'")
    return cell_labels(list(table[label_col]), competition, str(path), at)


def table_groups(table: pd.DataFrame, competition: Competition, path: Path) -> pd.Series:
    """The ``data.group_column`` of a labels table: it must exist and hold no empty cell."""
    col, id_col = competition.data.group_column, competition.data.label_columns[0]
    if col not in table.columns:
        raise CompError(f"{path}: no column '{col}' (data.group_column). Columns: {', '.join(table.columns)}")
    empty = table[col].str.strip() == ""
    if empty.any():
        row = int(empty.to_numpy().argmax())
        raise CompError(f"{path}: empty group in column '{col}' (data.group_column) for id '{table[id_col].iloc[row]}'"
                        f" on line {row + 2}; every row needs its group")
    return table[col].reset_index(drop=True)


def check_binary(classes: list[str], competition: Competition, where: str) -> None:
    """target.kind 'binary': exactly two classes, and ``target.positive`` (where set) one of them."""
    if competition.target.kind != "binary":
        return
    if len(classes) != 2:
        raise CompError(f"{where}: target.kind 'binary' needs exactly two classes; found {len(classes)}: "
                        f"{classes[:5]}{' ...' if len(classes) > 5 else ''}")
    positive = competition.target.positive
    if positive is not None and positive not in classes:
        raise CompError(f"{where}: target.positive '{positive}' is not one of the classes {classes}")
