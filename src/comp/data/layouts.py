"""Readers for the three competition layouts.

Each reader turns a competition's files into a :class:`Dataset`: a train table
(id, path, label), a test table (id, path) in submission order, and the class names.

- ``class-folders`` (Dacon): ``train/<class>/<image>``, ``test/<image>``; test id = file stem.
- ``csv-labels`` (Kaggle): ``train/<id>.<ext>`` + a labels CSV, ``test/<id>.<ext>``.
- ``meta-lists`` (Food-101): ``images/<class>/<name>.<ext>`` + ``meta/{classes,train,test}.txt``.

Ids are strings throughout: ``00042`` stays ``00042``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from comp.errors import CompError
from comp.spec import Competition

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


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
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, engine="c")
    except FileNotFoundError:
        raise CompError(f"{path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CompError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise CompError(f"{path}: {what} folder not found")
    return path


def list_images(folder: Path) -> list[Path]:
    """Image files in ``folder`` (not recursive), sorted by name.

    Hidden files are ignored; other files without an image extension are skipped with a warning.
    """
    images, skipped = [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.is_dir():
            continue
        (images if p.suffix.lower() in IMAGE_EXTENSIONS else skipped).append(p)
    if skipped:
        names = ", ".join(p.name for p in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        warnings.warn(f"{folder}: skipped {len(skipped)} file(s) without an image extension: {names}",
                      stacklevel=2)
    return images


def _check_unique(ids: pd.Series, where: str) -> None:
    dup = ids[ids.duplicated()]
    if len(dup):
        raise CompError(f"{where}: duplicate id '{dup.iloc[0]}' ({len(dup)} duplicate(s)); ids must be unique")


def _class_order(found: list[str], competition: Competition, where: str) -> list[str]:
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
    test = pd.DataFrame({"id": [p.stem for p in paths], "path": [str(p) for p in paths]})
    _check_unique(test["id"], str(folder))
    return test


def order_like_sample(test: pd.DataFrame, competition: Competition) -> pd.DataFrame:
    """Test rows in the sample submission's order; its ids must match the test images exactly."""
    sample_path = competition.path("sample_submission")
    if sample_path is None:
        return test.reset_index(drop=True)
    sample = read_csv_str(sample_path)
    id_col = competition.submission.id_column
    if id_col not in sample.columns:
        raise CompError(f"{sample_path}: no column '{id_col}' (submission.id_column). "
                        f"Columns: {', '.join(sample.columns)}")
    sample_ids, test_ids = set(sample[id_col]), set(test["id"])
    if sample_ids != test_ids:
        missing = sorted(test_ids - sample_ids)
        extra = sorted(sample_ids - test_ids)
        parts = []
        if extra:
            parts.append(f"{len(extra)} id(s) with no test image (e.g. '{extra[0]}')")
        if missing:
            parts.append(f"{len(missing)} test image(s) not in it (e.g. '{missing[0]}')")
        raise CompError(f"{sample_path}: ids do not match the test images in {competition.path('test')}: "
                        + "; ".join(parts))
    _check_unique(sample[id_col], str(sample_path))
    return test.set_index("id").loc[sample[id_col]].reset_index()


def read_class_folders(competition: Competition) -> Dataset:
    train_dir = _require_dir(competition.path("train"), "train")
    class_dirs = sorted(p for p in train_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise CompError(f"{train_dir}: no class folders (expected train/<class>/<image>)")
    rows = []
    for d in class_dirs:
        images = list_images(d)
        if not images:
            raise CompError(f"{d}: class folder has no images")
        # Train file names repeat across classes in the Dacon layout (0000.jpg in every folder).
        rows += [(f"{d.name}/{p.stem}", str(p), d.name) for p in images]
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
    _check_unique(table[id_col], str(labels_path))
    by_stem = {}
    for p in list_images(train_dir):
        if p.stem in by_stem:
            raise CompError(f"{train_dir}: two images share the id '{p.stem}': {by_stem[p.stem].name}, {p.name}")
        by_stem[p.stem] = p
    missing = [i for i in table[id_col] if i not in by_stem]
    if missing:
        raise CompError(f"{labels_path}: id '{missing[0]}' names no image in {train_dir} "
                        f"({len(missing)} such id(s))")
    empty = table[label_col].str.strip() == ""
    if empty.any():
        raise CompError(f"{labels_path}: empty label for id '{table[id_col][empty].iloc[0]}'")
    train = pd.DataFrame({"id": table[id_col], "path": [str(by_stem[i]) for i in table[id_col]],
                          "label": table[label_col]})
    classes = _class_order(sorted(set(train["label"])), competition, str(labels_path))
    return Dataset(train, order_like_sample(_test_from_folder(competition), competition), classes)


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise CompError(f"{path}: list file not found")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_meta_lists(competition: Competition) -> Dataset:
    images_dir = _require_dir(competition.path("images"), "images")
    classes_found = _read_list(competition.path("classes"))
    by_name: dict[str, Path] = {}
    for cls in classes_found:
        cls_dir = images_dir / cls
        if cls_dir.is_dir():
            for p in list_images(cls_dir):
                by_name[f"{cls}/{p.stem}"] = p

    def table(list_key: str, labelled: bool) -> pd.DataFrame:
        list_path = competition.path(list_key)
        entries = _read_list(list_path)
        if not entries:
            raise CompError(f"{list_path}: the list is empty")
        rows = []
        for entry in entries:
            if entry not in by_name:
                raise CompError(f"{list_path}: '{entry}' names no image under {images_dir}")
            cls = entry.split("/", 1)[0]
            if labelled and cls not in classes_found:
                raise CompError(f"{list_path}: class '{cls}' of '{entry}' is not in {competition.path('classes')}")
            rows.append((entry, str(by_name[entry]), cls))
        df = pd.DataFrame(rows, columns=["id", "path", "label"])
        _check_unique(df["id"], str(list_path))
        return df if labelled else df.drop(columns="label")

    train, test = table("train_list", True), table("test_list", False)
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
