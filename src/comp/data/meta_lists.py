"""Layout ``meta-lists`` (Food-101): ``images/<class>/<name>.<ext>`` and ``meta/{classes,train,test}.txt``.

``classes.txt`` lists the classes, one folder name a line; ``train.txt`` and ``test.txt`` list
entries ``<class>/<name>`` (no extension), which are the rows' ids. An entry or class that is
absolute, holds ``\\`` or NUL, or leads out of the images folder (``../x``) is refused with its
list file and line, as are an entry naming no image, a train entry of a class not listed, a
repeated entry and a class without training images. Class names keep the order of a text sort
(or ``data.class_names``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from comp.config.spec import Competition
from comp.data.checks import by_stem, check_class_line, check_list_entry, check_unique, list_images
from comp.data.dataset import Dataset, class_order, require_dir
from comp.errors import CompError


def _read_list(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line of a list file."""
    if not path.is_file():
        raise CompError(f"{path}: " + ("not a regular file; expected a list file" if path.exists()
                                       else "list file not found"))
    try:
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise CompError(f"{path}: not a readable list file ({e})") from None
    return [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]


def _meta_images(competition: Competition, images_dir: Path) -> tuple[list[str], dict[str, Path]]:
    """The classes of classes.txt and the images of their folders by '<class>/<stem>'."""
    classes_path = competition.path("classes")
    lines = _read_list(classes_path)
    for n, cls in lines:
        check_class_line(cls, f"{classes_path}: line {n}")
    found = [cls for _, cls in lines]
    by_name: dict[str, Path] = {}
    for cls in found:
        cls_dir = images_dir / cls
        if cls_dir.is_dir():
            by_name.update({f"{cls}/{stem}": p for stem, p in by_stem(list_images(cls_dir), cls_dir).items()})
    return found, by_name


def _meta_table(competition: Competition, list_key: str, images_dir: Path, by_name: dict[str, Path],
                classes: list[str] | None) -> pd.DataFrame:
    """The rows of one list file; ``classes``: check each entry's class (the train list)."""
    list_path = competition.path(list_key)
    entries = _read_list(list_path)
    if not entries:
        raise CompError(f"{list_path}: the list is empty")
    rows = []
    for n, entry in entries:
        check_list_entry(entry, f"{list_path}: line {n}", images_dir)
        if entry not in by_name:
            raise CompError(f"{list_path}: '{entry}' names no image under {images_dir} (line {n})")
        cls = entry.split("/", 1)[0]
        if classes is not None and cls not in classes:
            raise CompError(f"{list_path}: class '{cls}' of '{entry}' is not in {competition.path('classes')} "
                            f"(line {n})")
        rows.append((entry, str(by_name[entry]), cls))
    df = pd.DataFrame(rows, columns=["id", "path", "label"])
    check_unique(df["id"], str(list_path), [n for n, _ in entries])
    return df if classes is not None else df.drop(columns="label")


def read_meta_lists(competition: Competition) -> Dataset:
    """Train and test rows from the list files; the classes from classes.txt."""
    images_dir = require_dir(competition.path("images"), "images")
    classes_found, by_name = _meta_images(competition, images_dir)
    train = _meta_table(competition, "train_list", images_dir, by_name, classes_found)
    test = _meta_table(competition, "test_list", images_dir, by_name, None)
    empty = sorted(set(classes_found) - set(train["label"]))
    if empty:
        raise CompError(f"{competition.path('train_list')}: class '{empty[0]}' has no training images")
    return Dataset(train, test, class_order(classes_found, competition, str(competition.path("classes"))))
