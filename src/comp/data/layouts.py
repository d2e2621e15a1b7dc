"""Readers for the three competition layouts.

Each reader turns a competition's files into a :class:`Dataset`: a train table
(id, path, label), a test table (id, path) in submission order, and the class names.

- ``class-folders`` (Dacon): ``train/<class>/<image>``, ``test/<image>``; test id = file stem.
- ``csv-labels`` (Kaggle): ``train/<id>.<ext>`` + a labels CSV, ``test/<id>.<ext>``.
- ``meta-lists`` (Food-101): ``images/<class>/<name>.<ext>`` + ``meta/{classes,train,test}.txt``.

Ids are strings throughout: ``00042`` stays ``00042``.

A messy folder is read as :mod:`comp.data.checks` says: hidden files, ``Thumbs.db`` and
``desktop.ini`` are ignored; other non-image files, folders inside an image folder and special
files (pipes, sockets) are skipped with a warning; a link to a missing image, two images with
one id, a class name with stray whitespace or an invisible character, two class names
that differ only in case or Unicode form, and an image or class folder named in bytes that are not
UTF-8 (or an image named with a newline) are errors. A labels CSV and a sample submission need
rows; the sample has exactly the spec's id and target columns and unique, non-empty ids. A
meta-lists entry or class that is absolute, holds ``\\`` or NUL, or leads out of the images
folder (``../x``) is refused with its list file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from comp.data.checks import (FOLDER, IGNORED, IMAGE_EXTENSIONS, by_stem, check_class_line,  # noqa: F401
                              check_class_names, check_list_entry, check_name, check_sample, check_unique, entries,
                              entry_kind, list_images, warn_skipped)
from comp.errors import CompError
from comp.config.spec import Competition


@dataclass
class Dataset:
    train: pd.DataFrame  # columns id, path, label (class name)
    test: pd.DataFrame  # columns id, path; rows in submission order
    class_names: list[str]

    @property
    def labels(self):
        """Train labels as class indices (numpy int64)."""
        index = {name: i for i, name in enumerate(self.class_names)}
        return self.train["label"].map(index).to_numpy()


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


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise CompError(f"{path}: {what} folder not found")
    return path


def _class_order(found: list[str], competition: Competition, where: str, locate=lambda name: "") -> list[str]:
    check_class_names(found, where, locate)
    if competition.data.class_names is None:
        return sorted(found)
    unknown = sorted(set(found) - set(competition.data.class_names))
    if unknown:
        raise CompError(f"{where}: class '{unknown[0]}' is not in data.class_names {competition.data.class_names}")
    return list(competition.data.class_names)


def _test_from_folder(competition: Competition) -> pd.DataFrame:
    folder = _require_dir(competition.path("test"), "test")
    paths = list_images(folder)
    if not paths:
        raise CompError(f"{folder}: test folder has no images")
    stems = by_stem(paths, folder)
    return pd.DataFrame({"id": list(stems), "path": [str(p) for p in stems.values()]})


def order_like_sample(test: pd.DataFrame, competition: Competition) -> pd.DataFrame:
    """Test rows in the sample submission's order; its ids must match the test images exactly."""
    sample_path = competition.path("sample_submission")
    if sample_path is None:
        return test.reset_index(drop=True)
    sample = read_csv_str(sample_path)
    id_col = competition.submission.id_column
    check_sample(sample, sample_path, id_col, competition.submission.target_column)
    sample_ids, test_ids = set(sample[id_col]), set(test["id"])
    if sample_ids != test_ids:
        missing = sorted(test_ids - sample_ids)
        extra = sorted(sample_ids - test_ids)
        parts = []
        if extra:
            parts.append(f"{len(extra)} id(s) with no test image (e.g. {extra[0]!r})")
        if missing:
            parts.append(f"{len(missing)} test image(s) not in it (e.g. {missing[0]!r})")
        raise CompError(f"{sample_path}: ids do not match the test images in {competition.path('test')}: "
                        + "; ".join(parts))
    return test.set_index("id").loc[sample[id_col]].reset_index()


def read_class_folders(competition: Competition) -> Dataset:
    train_dir = _require_dir(competition.path("train"), "train")
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
    rows = []
    for d in class_dirs:
        images = list_images(d)
        if not images:
            raise CompError(f"{d}: class folder has no images")
        # Train file names repeat across classes in the Dacon layout (0000.jpg in every folder).
        rows += [(f"{d.name}/{stem}", str(p), d.name) for stem, p in by_stem(images, d).items()]
    train = pd.DataFrame(rows, columns=["id", "path", "label"])
    classes = _class_order([d.name for d in class_dirs], competition, str(train_dir))
    return Dataset(train, order_like_sample(_test_from_folder(competition), competition), classes)


def read_csv_labels(competition: Competition) -> Dataset:
    train_dir = _require_dir(competition.path("train"), "train")
    labels_path = competition.path("labels")
    table = read_csv_str(labels_path)
    id_col, label_col = competition.data.label_columns
    for col in (id_col, label_col):
        if col not in table.columns:
            raise CompError(f"{labels_path}: missing column '{col}' (data.label_columns). "
                            f"Columns: {', '.join(table.columns)}")
    if table.empty:
        raise CompError(f"{labels_path}: no rows (a header only); expected one '{id_col},{label_col}' row "
                        f"per training image")
    check_unique(table[id_col], str(labels_path))
    images = by_stem(list_images(train_dir), train_dir)
    missing = [i for i in table[id_col] if i not in images]
    if missing:
        raise CompError(f"{labels_path}: id '{missing[0]}' names no image in {train_dir} "
                        f"({len(missing)} such id(s))")
    empty = table[label_col].str.strip() == ""
    if empty.any():
        raise CompError(f"{labels_path}: empty label for id '{table[id_col][empty].iloc[0]}'")
    train = pd.DataFrame({"id": table[id_col], "path": [str(images[i]) for i in table[id_col]],
                          "label": table[label_col]})
    first = {label: row for row, label in reversed(list(enumerate(train["label"])))}

    def locate(label: str) -> str:
        return f" (id '{train['id'][first[label]]}', line {first[label] + 2})"

    classes = _class_order(sorted(set(train["label"])), competition, str(labels_path), locate)
    return Dataset(train, order_like_sample(_test_from_folder(competition), competition), classes)


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
    images_dir = _require_dir(competition.path("images"), "images")
    classes_found, by_name = _meta_images(competition, images_dir)
    train = _meta_table(competition, "train_list", images_dir, by_name, classes_found)
    test = _meta_table(competition, "test_list", images_dir, by_name, None)
    empty = sorted(set(classes_found) - set(train["label"]))
    if empty:
        raise CompError(f"{competition.path('train_list')}: class '{empty[0]}' has no training images")
    return Dataset(train, test, _class_order(classes_found, competition, str(competition.path("classes"))))


READERS = {
    "class-folders": read_class_folders,
    "csv-labels": read_csv_labels,
    "meta-lists": read_meta_lists,
}


def read_dataset(competition: Competition) -> Dataset:
    """Read a competition's data; the data root must exist (see comp.data.demo for builders)."""
    if not competition.root.is_dir():
        raise CompError(f"{competition.root}: data folder not found for competition '{competition.name}' "
                        f"(put the data there or pass --data PATH)")
    dataset = READERS[competition.data.layout](competition)
    if len(dataset.class_names) < 2:
        raise CompError(f"{competition.root}: found {len(dataset.class_names)} class(es); need at least 2")
    return dataset
