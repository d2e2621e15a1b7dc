"""Which layout a competition folder is in, where its train and test images lie and where their labels
come from (``comp init``; the files are read by :mod:`comp.data.infer_files`).

In this order:

1. ``coco-json``: a ``metadata.json`` with ``annotations`` (:mod:`comp.data.infer_coco`, tried first
   by :mod:`comp.data.infer`);
2. the test images: the folder or archive whose images the sample submission's ids name (by
   name or by stem); a tie goes to the images PIL reads as they are (JPEG over DICOM), then to a
   folder named like "test";
3. ``csv-labels``: the CSV of the root with a column of unique values that name (at least 90% of)
   the images of a folder: its id column. A CSV whose rows are the test ids (a ``test.csv`` of
   features) and one whose values name no images (a class map such as imet's ``labels.csv``) are
   not labels. The images of a folder of sub-folders count too, by their own names: a CSV that names
   them one by one wins over class-folders, its sub-folders being storage (hotel-id-2021-fgvc8:
   ``train_images/<chain>/<image>.jpg``, labelled by ``hotel_id``, not by chain);
4. ``class-folders``: a folder (not the test one) of two or more class folders of images;
5. ``file-names``: a folder whose images are all named ``<label>.<n>.<ext>`` (dogs-vs-cats).

Two candidates for one role stop it with one line naming both and the spec key to set.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from comp.data.infer_files import ImageSource, Sample, archive_sources, folder_sources, read_table, root_csvs
from comp.errors import CompError

LABELS_SHARE = 0.9  # of a column's values that must name images for it to be an id column
FILE_NAME = re.compile(r"^([^.]+)\.\d+\.[A-Za-z0-9]+$")  # <label>.<n>.<ext>
LABEL_PATTERN = r"^([^.]+)\."


@dataclass
class Layout:
    """What comp init found: the layout, the image folders and where the train labels come from."""

    layout: str
    train: ImageSource
    test: ImageSource
    id_form: str  # "stem", "name" or "auto" (coco-json: the metadata's image ids)
    why: str  # the layout line's reason
    labels_csv: Path | None = None
    table: pd.DataFrame | None = None  # the labels CSV
    id_column: str | None = None  # of the labels CSV
    values: pd.Series | None = None  # the train labels of a layout without a labels CSV
    label_column: str | None = None  # where values come from (coco-json: category_id)
    test_columns: list[str] = field(default_factory=list)  # columns of a CSV of test rows: features, not labels
    keys: dict = field(default_factory=dict)  # further data keys (label_pattern, train_metadata, ...)


@dataclass
class NestedSource(ImageSource):
    """A folder whose images lie in sub-folders that are storage, not classes (csv-labels): ``names``
    are their paths under it (``<sub>/<name>``), matched by their own names."""

    folders: int = 0  # its sub-folders

    @functools.cached_property
    def name_set(self) -> set[str]:
        return {PurePosixPath(n).name for n in self.names}

    def describe(self) -> str:
        """``train_images/ (.jpg, 1200 files in 88 sub-folders)``"""
        origin = f", from {self.archive}" if self.archive else ""
        n = len(self.names)
        return (f"{self.folder}/ ({', '.join(self.extensions)}, {n} file{'' if n == 1 else 's'} in "
                f"{self.folders} sub-folders{origin})")


def named_sources(sources: list[ImageSource]) -> list[ImageSource]:
    """The sources whose images a CSV may name: folders of images, and folders of sub-folders of images
    read as :class:`NestedSource`."""
    return [s if s.names else NestedSource(s.folder, s.files, s.archive, s.prefix, folders=len(s.classes))
            for s in sources if s.names or s.classes]


def pick(candidates: list, source_of, role: str, key: str, where: Path):
    """The one candidate for ``role``: ties go to common image formats, then to a folder named like
    the role; more than one left is an error naming them and ``key``."""
    for keep in (lambda c: source_of(c).common, lambda c: role in source_of(c).folder.lower()):
        kept = [c for c in candidates if keep(c)]
        candidates = kept or candidates
    if len(candidates) > 1:
        names = " and ".join(f"{source_of(c).folder}/" for c in candidates)
        raise CompError(f"{where}: {names} both hold the {role} images; set {key} to the one to use")
    return candidates[0]


def find_test(root: Path, sources: list[ImageSource], sample: Sample) -> tuple[ImageSource, str]:
    """The source whose images the sample's ids name, and how ("name" or "stem")."""
    ids = set(sample.ids)
    scored = [(src, *src.match(ids)) for src in sources if src.names]
    best = max((n for _, n, _ in scored), default=0)
    if best == 0 or best < len(ids) / 2:
        raise CompError(f"{root}: no folder or inner archive holds the test images that {sample.path.name} "
                        f"names (e.g. {sample.ids.iloc[0]!r}); unpack them there, or set data.test")
    src, _, form = pick([s for s in scored if s[1] == best], lambda s: s[0], "test", "data.test", root)
    return src, form


def _id_hits(table: pd.DataFrame, sources: list[ImageSource]) -> list[tuple[str, ImageSource, str, int]]:
    """(column, source, form, matches) of each column of unique values that name a source's images."""
    hits = []
    for column in table.columns:
        values = table[column]
        if values.duplicated().any() or (values.str.strip() == "").any():
            continue
        ids = set(values)
        for src in sources:
            n, form = src.match(ids)
            if n and n >= LABELS_SHARE * len(ids):
                hits.append((column, src, form, n))
    return hits


def _labels_candidates(root: Path, sample: Sample, sources: list[ImageSource]):
    """The labels CSVs (path, table, id hits), and the columns of a CSV of test rows."""
    candidates, test_columns = [], []
    sample_ids = set(sample.ids)
    for path in root_csvs(root):
        if path == sample.path:
            continue
        table = read_table(path)
        hits = _id_hits(table, named_sources(sources)) if not table.empty else []
        if not hits:
            continue  # names no images: a class map, or another table
        if max(len(set(table[h[0]]) & sample_ids) for h in hits) >= len(table) / 2:
            test_columns = list(table.columns)  # the test rows (their features)
            continue
        candidates.append((path, table, hits))
    if len(candidates) > 1:  # the one holding the sample's target columns, if only one does
        holding = [c for c in candidates if set(sample.targets) & set(c[1].columns)]
        candidates = holding if len(holding) == 1 else candidates
    if len(candidates) > 1:
        names = " and ".join(p.name for p, _, _ in candidates)
        raise CompError(f"{root}: two candidate labels CSVs name the train images: {names}; "
                        f"set data.labels to the one that holds the labels")
    return (candidates[0] if candidates else None), test_columns


def _id_column(path: Path, hits, sample: Sample, test_form: str):
    """The labels CSV's id column (and its source and form) among the columns that name images."""
    columns = list(dict.fromkeys(h[0] for h in hits))
    if len(columns) > 1:
        for keep in (lambda h: h[0].lower() == sample.id_column.lower(), lambda h: h[2] == test_form):
            kept = [h for h in hits if keep(h)]
            if kept and len({h[0] for h in kept}) == 1:
                hits = kept
                break
        columns = list(dict.fromkeys(h[0] for h in hits))
    if len(columns) > 1:
        raise CompError(f"{path}: several candidate id columns name the train images: "
                        f"{', '.join(repr(c) for c in columns)}; set data.label_columns = "
                        f"[<id column>, <label column>]")
    best = max(h[3] for h in hits)
    return pick([h for h in hits if h[3] == best], lambda h: h[1], "train", "data.train", path)


def csv_layout(root: Path, sample: Sample, sources, test: ImageSource, test_form: str) -> Layout | None:
    """csv-labels where a CSV names the train images, else None."""
    found, test_columns = _labels_candidates(root, sample, sources)
    if found is None:
        return None
    path, table, hits = found
    column, train, form, _ = _id_column(path, hits, sample, test_form)
    if form != test_form:
        raise CompError(f"{path}: its ids name the train images by {form} but {sample.path.name}'s name the "
                        f"test images by {test_form}; set data.id_form (stem: without the extension, name: with it)")
    why = f"{path.name} names the images of {train.folder}/ in its column '{column}'"
    if isinstance(train, NestedSource):
        why = (f"{path.name} names the images under {train.folder}/ (in {train.folders} sub-folders) in its "
               f"column '{column}'; the sub-folders are storage, not classes")
    return Layout("csv-labels", train, test, form, why, labels_csv=path, table=table, id_column=column,
                  test_columns=test_columns)


def folders_layout(root: Path, sample: Sample, sources, test: ImageSource, test_form: str) -> Layout | None:
    """class-folders where a folder other than the test one holds class folders of images, else None."""
    found = [s for s in sources if s.classes and s.folder != test.folder]
    if not found:
        return None
    train = pick(found, lambda s: s, "train", "data.train", root)
    values = pd.Series([c for c, names in sorted(train.classes.items()) for _ in names], dtype=str)
    why = f"{train.folder}/ holds one folder per class, no CSV names its images"
    return Layout("class-folders", train, test, test_form, why, values=values)


def names_layout(root: Path, sample: Sample, sources, test: ImageSource, test_form: str) -> Layout | None:
    """file-names where a folder's images are all named <label>.<n>.<ext> (two labels or more), else None."""
    found = []
    for src in sources:
        matches = [FILE_NAME.match(n) for n in src.names]
        if src.folder != test.folder and src.names and all(matches) and len({m[1] for m in matches}) >= 2:
            found.append((src, [m[1] for m in matches]))
    if not found:
        return None
    train, labels = pick(found, lambda f: f[0], "train", "data.train", root)
    why = (f"no CSV names the images of {train.folder}/, whose names are <label>.<n>.<ext> "
           f"(e.g. {train.names[0]!r}); label_pattern {LABEL_PATTERN!r}")
    return Layout("file-names", train, test, test_form, why, values=pd.Series(labels, dtype=str),
                  keys={"label_pattern": LABEL_PATTERN})


def find_layout(root: Path, sample: Sample) -> Layout:
    """The layout, image folders and labels of a folder that is not coco-json (see the module's docstring)."""
    sources = folder_sources(root) + archive_sources(root)
    test, test_form = find_test(root, sources, sample)
    for find in (csv_layout, folders_layout, names_layout):
        layout = find(root, sample, sources, test, test_form)
        if layout is not None:
            return layout
    raise CompError(f"{root}: cannot tell where the train labels are: no CSV names the train images, no folder "
                    f"holds class folders, no images are named <label>.<n>.<ext>; set data.layout, data.train "
                    f"and data.labels")
