"""What ``comp init`` reads of a competition folder: its sample submission, its CSVs, and the folders
and inner archives that hold images (their size: :mod:`comp.data.infer_sizes`).

Nothing here unpacks: archives are listed (:mod:`zipfile`, :mod:`tarfile`).

- the sample submission is ``sample_submission.csv``, else the one CSV of the folder whose name
  holds "sample" or "submission"; its first column is the id column, unless it is an unnamed
  index column (``Unnamed: 0``, pandas' name for a blank header), which is skipped;
- an image source is a folder (up to :data:`MAX_DEPTH` levels below the root) or an inner archive
  (:data:`ARCHIVE_SUFFIXES`, at the root) that holds image files (an extension of
  :data:`~comp.data.checks.IMAGE_EXTENSIONS`) directly, or in one sub-folder per class; an archive
  is unpacked into a folder named as the archive without its suffix (``train.zip`` -> ``train/``),
  so its images will lie there, under the archive's own inner folder where it has one, except a
  single top folder named as the archive (``train/`` in ``train.zip``), which is not doubled.
"""

from __future__ import annotations

import functools
import os
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from comp.data.checks import IMAGE_EXTENSIONS
from comp.data.layouts import read_csv_str
from comp.errors import CompError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
MAX_DEPTH = 3  # folders below the root that are looked into (jpeg/train, nybg2020/train: 2)
SKIPPED_FOLDERS = {"__MACOSX"}
# extensions PIL reads directly: preferred to a copy of the same images in another format (DICOM)
COMMON_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def is_image(name: str) -> bool:
    """Whether a file name has an image extension (any case)."""
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def stem(name: str) -> str:
    """A file name without its extension (and without its folders)."""
    return PurePosixPath(name).stem


@dataclass
class ImageSource:
    """A folder of images: on disk, or where an inner archive will unpack them."""

    folder: str  # relative to the root, '/'-separated: the spec's data.train or data.test
    names: list[str]  # image files directly in it (coco-json: paths relative to it), sorted
    archive: str | None = None  # the inner archive that holds them, relative to the root
    prefix: str = ""  # their folder inside the archive ("" or "train/")
    classes: dict[str, list[str]] = field(default_factory=dict)  # class-folders: class -> image names

    @functools.cached_property
    def name_set(self) -> set[str]:
        """Its image names, with their extensions."""
        return set(self.names)

    @functools.cached_property
    def stem_set(self) -> set[str]:
        """Its image names without their extensions."""
        return {stem(n) for n in self.names}

    def match(self, ids: set[str]) -> tuple[int, str]:
        """How many of ``ids`` name its images, and how: with the extension ("name") or without ("stem")."""
        by_name, by_stem = len(ids & self.name_set), len(ids & self.stem_set)
        return (by_name, "name") if by_name >= by_stem and by_name else (by_stem, "stem")

    @property
    def files(self) -> list[str]:
        """Every image, relative to the folder (class-folders: ``<class>/<name>``)."""
        return self.names or [f"{c}/{n}" for c, names in sorted(self.classes.items()) for n in names]

    @property
    def extensions(self) -> list[str]:
        """Its images' extensions, lowercase, sorted."""
        return sorted({PurePosixPath(n).suffix.lower() for n in self.files})

    @property
    def common(self) -> bool:
        """Whether PIL reads its images as they are (not DICOM, say)."""
        return set(self.extensions) <= COMMON_EXTENSIONS

    def describe(self) -> str:
        """``train/ (.jpg, 1200 files, from train.zip)``"""
        origin = f", from {self.archive}" if self.archive else ""
        classes = f" in {len(self.classes)} class folders" if self.classes else ""
        n = len(self.files)
        return f"{self.folder}/ ({', '.join(self.extensions)}, {n} file{'' if n == 1 else 's'}{classes}{origin})"


# --------------------------------------------------------------------------- CSVs


def read_table(path: Path) -> pd.DataFrame:
    """A CSV with every cell a string (ids keep their leading zeros)."""
    return read_csv_str(path)


def root_csvs(root: Path) -> list[Path]:
    """The CSV files directly in the root, sorted (hidden ones left out)."""
    return sorted(p for p in root.iterdir() if p.suffix.lower() == ".csv" and p.is_file()
                  and not p.name.startswith("."))


def find_sample(root: Path) -> Path:
    """The sample submission: ``sample_submission.csv``, else the one CSV named *sample*/*submission*."""
    exact = root / "sample_submission.csv"
    if exact.is_file():
        return exact
    named = [p for p in root_csvs(root) if "sample" in p.name.lower() or "submission" in p.name.lower()]
    if len(named) == 1:
        return named[0]
    if not named:
        raise CompError(f"{root}: no sample submission found (expected sample_submission.csv or one CSV whose "
                        f"name holds 'sample' or 'submission'); put the competition's sample submission there "
                        f"(data.sample_submission)")
    raise CompError(f"{root}: several candidate sample submissions: {', '.join(p.name for p in named)}; "
                    f"keep one, or write the spec with data.sample_submission set to it")


@dataclass
class Sample:
    """The sample submission: its id column, its target columns, its rows."""

    path: Path
    id_column: str
    targets: list[str]
    table: pd.DataFrame
    skipped_index: str | None = None  # the unnamed index column it starts with (iwildcam)

    @property
    def ids(self) -> pd.Series:
        """The test ids, in the sample's order."""
        return self.table[self.id_column]


def read_sample(path: Path) -> Sample:
    """The sample submission's id and target columns (see the module's docstring)."""
    table = read_table(path)
    columns = list(table.columns)
    skipped = None
    if columns and (columns[0] == "" or columns[0].startswith("Unnamed: ")):
        skipped, columns = columns[0], columns[1:]
    if len(columns) < 2:
        raise CompError(f"{path}: expected an id column and at least one target column; columns: "
                        f"{', '.join(table.columns) or 'none'} (submission.id_column, submission.target_column)")
    if table.empty:
        raise CompError(f"{path}: no rows (a header only); a sample submission lists every test id")
    ids = table[columns[0]]
    if ids.duplicated().any() or (ids.str.strip() == "").any():
        bad = ids[ids.duplicated() | (ids.str.strip() == "")].iloc[0]
        raise CompError(f"{path}: its first column '{columns[0]}' is not a column of unique ids (e.g. {bad!r}); "
                        f"set submission.id_column to the column of test ids")
    return Sample(path, columns[0], columns[1:], table, skipped)


# --------------------------------------------------------------------------- image folders


def _scan(folder: Path) -> tuple[list[str], list[Path]]:
    """The image names directly in ``folder`` and its sub-folders (hidden ones left out)."""
    images, subdirs = [], []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith(".") or entry.name in SKIPPED_FOLDERS:
                    continue
                if entry.is_dir():
                    subdirs.append(Path(entry.path))
                elif is_image(entry.name):
                    images.append(entry.name)
    except OSError as e:
        raise CompError(f"{folder}: cannot list the folder ({e.strerror or e})") from None
    return sorted(images), sorted(subdirs)


def folder_sources(root: Path, depth: int = MAX_DEPTH) -> list[ImageSource]:
    """Every folder up to ``depth`` levels below ``root`` that holds images, flat or in class folders."""
    found: list[ImageSource] = []

    def visit(folder: Path, level: int) -> list[str]:
        """Record ``folder`` if it holds images (or class folders); return its own images."""
        images, subdirs = _scan(folder)
        rel = folder.relative_to(root).as_posix()
        classes = {}
        for sub in subdirs if level < depth else []:
            inner = visit(sub, level + 1)
            if inner:
                classes[sub.name] = inner
        if level > 0 and images:
            found.append(ImageSource(rel, images))
        if level > 0 and not images and len(classes) >= 2:
            found.append(ImageSource(rel, [], classes=classes))
        return images

    visit(root, 0)
    return found


def archive_stem(name: str) -> str:
    """The folder an archive unpacks into: its name without the suffix (``x.tar.gz`` -> ``x``)."""
    lower = name.lower()
    return next(name[:-len(s)] for s in ARCHIVE_SUFFIXES if lower.endswith(s))


def archive_members(path: Path) -> list[tuple[str, bool]]:
    """The members of a zip or tar archive (name, whether a folder), without unpacking it."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                return [(i.filename.rstrip("/"), i.is_dir()) for i in zf.infolist()]
        with tarfile.open(path) as tf:
            return [(m.name, m.isdir()) for m in tf.getmembers() if m.isfile() or m.isdir()]
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise CompError(f"{path}: not a readable archive ({e}); unpack it by hand, or remove it") from None


def _unpacked_folder(stem_: str, inner: tuple[str, ...], members: list[tuple[tuple[str, ...], bool]]) -> str:
    """Where a folder of the archive lies once unpacked into ``<stem>/``: a single top folder named
    ``<stem>`` is not doubled (``train/x.jpg`` of train.zip -> ``train/x.jpg``), as comp.data.archives does."""
    single_top = all(p[0] == stem_ for p, _ in members) and all(len(p) > 1 or is_dir for p, is_dir in members)
    return "/".join((stem_,) + (inner[1:] if single_top else inner))


def _source_from_members(stem_: str, archive: str, members: list[tuple[str, bool]]) -> ImageSource | None:
    """Where the archive's images will lie once unpacked: one folder of them, or one folder of class
    folders; None where it holds no images, or images scattered otherwise."""
    kept = [(PurePosixPath(m).parts, d) for m, d in members if PurePosixPath(m).parts
            and PurePosixPath(m).parts[0] not in SKIPPED_FOLDERS and m != "."]
    parts = [p for p, d in kept if not d and is_image(p[-1]) and not any(x.startswith(".") for x in p)]
    if not parts:
        return None
    parents = {p[:-1] for p in parts}
    if len(parents) == 1:
        inner = next(iter(parents))
        return ImageSource(_unpacked_folder(stem_, inner, kept), sorted(p[-1] for p in parts), archive,
                           "".join(x + "/" for x in inner))
    tops = {p[:-2] for p in parts if len(p) >= 2}
    if len(tops) == 1 and all(len(p) >= 2 for p in parts):
        inner = next(iter(tops))
        classes: dict[str, list[str]] = {}
        for p in parts:
            classes.setdefault(p[-2], []).append(p[-1])
        return ImageSource(_unpacked_folder(stem_, inner, kept), [], archive, "".join(x + "/" for x in inner),
                           {c: sorted(n) for c, n in classes.items()})
    return None


def archive_sources(root: Path) -> list[ImageSource]:
    """The inner archives at the root that hold images and are not unpacked yet (no folder of their name)."""
    found = []
    for p in sorted(root.iterdir()):
        if not p.is_file() or not p.name.lower().endswith(ARCHIVE_SUFFIXES) or p.name.startswith("."):
            continue
        stem_ = archive_stem(p.name)
        if (root / stem_).exists():
            continue  # unpacked already: its folder is read instead
        source = _source_from_members(stem_, p.name, archive_members(p))
        if source is not None:
            found.append(source)
    return found
