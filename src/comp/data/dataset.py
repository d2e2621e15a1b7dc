"""The :class:`Dataset` every layout reader returns, and what the readers share: reading a CSV as
strings, a folder that must exist, and the order of the class names.

Class names are kept as found and ordered by ``data.class_names`` where the spec sets it; else
sorted, as numbers where every name is one (grades ``"0".."10"``: 2 before 10; :func:`sort_names`)
for the layouts whose labels are read from a table or a file name, as text for folder names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from comp.config.spec import Competition
from comp.data.checks import check_class_names
from comp.errors import CompError

NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Dataset:
    train: pd.DataFrame  # columns id, path, label (a string), and group where data.group_column is set
    test: pd.DataFrame  # columns id, path; rows in submission order
    class_names: list[str]

    @property
    def labels(self):
        """Train labels as class indices (numpy int64)."""
        index = {name: i for i, name in enumerate(self.class_names)}
        return self.train["label"].map(index).to_numpy()

    @property
    def groups(self) -> pd.Series | None:
        """Each train row's group (``data.group_column``: rows of one group stay in one fold), or None."""
        return self.train["group"] if "group" in self.train.columns else None


def subset_dataset(dataset: Dataset, per_class: int, seed: int) -> Dataset:
    """At most ``per_class`` training images of each class (seeded draw, original order kept)
    and no test images: a quick comparison on part of the data (``--subset``)."""
    if per_class < 1:
        raise CompError(f"--subset must be at least 1 image per class. Received: {per_class}")
    shuffled = dataset.train.sample(frac=1.0, random_state=seed)
    train = shuffled[shuffled.groupby("label").cumcount() < per_class].sort_index().reset_index(drop=True)
    return Dataset(train=train, test=dataset.test.iloc[:0], class_names=dataset.class_names)


def read_csv_str(path: Path) -> pd.DataFrame:
    """A CSV with every column read as a string (the C engine: pyarrow strips leading zeros)."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a pipe that would block the read
        raise CompError(f"{path}: not a regular file; expected a CSV")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, engine="c")
    except FileNotFoundError:
        raise CompError(f"{path}: file not found") from None
    except OSError as e:
        raise CompError(f"{path}: cannot read ({e.strerror or e})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CompError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None


def require_dir(path: Path, what: str) -> Path:
    """``path``, which must be a folder (``what``: which one, for the message)."""
    if not path.is_dir():
        raise CompError(f"{path}: {what} folder not found")
    return path


def is_number(text: str) -> bool:
    """A decimal number as a CSV writes one (``3``, ``-0.5``, ``1e3``)."""
    return NUMBER.fullmatch(text) is not None


def sort_names(names) -> list[str]:
    """Names sorted as numbers where every one is a number (``2`` before ``10``), else as text."""
    names = list(names)
    if names and all(is_number(n) for n in names):
        return sorted(names, key=lambda n: (float(n), n))
    return sorted(names)


def class_order(found: list[str], competition: Competition, where: str, locate: Callable[[str], str] = lambda n: "",
                order: Callable[[list[str]], list[str]] = sorted) -> list[str]:
    """The class names: ``found`` checked (:func:`~comp.data.checks.check_class_names`), in the order
    ``data.class_names`` gives, which must hold each of them, else ``order(found)``."""
    check_class_names(found, where, locate)
    if competition.data.class_names is None:
        return list(order(found))
    unknown = sorted(set(found) - set(competition.data.class_names))
    if unknown:
        raise CompError(f"{where}: class '{unknown[0]}' is not in data.class_names {competition.data.class_names}")
    return list(competition.data.class_names)
