"""Layout ``coco-json`` (herbarium-2020): COCO-style metadata files name the images and their classes.

``data.train_metadata`` (``nybg2020/train/metadata.json``) holds ``images`` (``[{id, file_name, ...}]``)
and ``annotations`` (``[{image_id, category_id, ...}]``); each image is a train row whose label is
its annotation's ``category_id`` (as a string: class names sort as numbers). ``data.test_metadata``
holds ``images`` only: the test rows (id = the image's ``id`` as a string), in the sample
submission's order where ``data.sample_submission`` is set (matched on ``submission.id_column``),
else in the file's. A ``file_name`` is relative to its metadata file's folder and may be nested
(``images/155/04/123.jpg``).

JSON is read as UTF-8, else as latin-1 (herbarium's metadata is not valid UTF-8). Refused in one
line naming the metadata file: a missing key, an id that is not an integer or a string, a
``file_name`` that is absolute or leads out of the metadata's folder, a missing image file,
duplicate image ids, an annotation of an unknown image, an image with no annotation or with
annotations of two categories.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath

import pandas as pd

from comp.config.spec import Competition
from comp.data.dataset import Dataset
from comp.data.labels import cell_labels
from comp.data.test_rows import in_sample_order, read_sample
from comp.errors import CompError


def read_json(path: Path) -> dict:
    """A metadata file's object: UTF-8 (a BOM allowed), else latin-1."""
    if not path.is_file():
        raise CompError(f"{path}: " + ("not a regular file; expected a JSON file" if path.exists()
                                       else "metadata file not found"))
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CompError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CompError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise CompError(f"{path}: expected a JSON object with 'images'; found a {type(data).__name__}")
    return data


def _entries(meta: dict, key: str, path: Path) -> list:
    if key not in meta:
        raise CompError(f"{path}: no key '{key}'; COCO metadata holds 'images' [{{id, file_name}}] and, for "
                        f"training, 'annotations' [{{image_id, category_id}}]")
    if not isinstance(meta[key], list):
        raise CompError(f"{path}: '{key}' is a {type(meta[key]).__name__}; expected a list of objects")
    return meta[key]


def _ident(entry, key: str, where: str, path: Path) -> str:
    """``entry[key]``, an integer or a non-empty string, as a string."""
    if not isinstance(entry, dict) or key not in entry:
        raise CompError(f"{path}: {where} has no key '{key}'")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        raise CompError(f"{path}: {where} '{key}' is {value!r}; expected an integer or a non-empty string")
    return str(value)


def _file(image, where: str, path: Path) -> Path:
    """The image's file: ``file_name`` relative to the metadata's folder, leading nowhere else."""
    folder = path.parent
    if not isinstance(image, dict) or "file_name" not in image:
        raise CompError(f"{path}: {where} has no key 'file_name'")
    name = image["file_name"]
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        raise CompError(f"{path}: {where} file_name {name!r} is not a '/'-separated path (no backslash or NUL)")
    if PurePosixPath(name).is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise CompError(f"{path}: {where} file_name {name!r} is an absolute path; file names are relative "
                        f"to {folder}")
    norm = os.path.normpath(name)
    if norm in (".", "..") or norm.startswith("../"):
        raise CompError(f"{path}: {where} file_name {name!r} leads out of {folder}; file names lie inside it")
    return folder / name


def read_images(meta: dict, path: Path) -> dict[str, Path]:
    """The ``images`` of a metadata file by id, each file checked to exist."""
    images: dict[str, Path] = {}
    for n, image in enumerate(_entries(meta, "images", path)):
        where = f"images[{n}]"
        image_id = _ident(image, "id", where, path)
        if image_id in images:
            raise CompError(f"{path}: duplicate image id '{image_id}' ({where}); image ids must be unique")
        images[image_id] = _file(image, where, path)
    if not images:
        raise CompError(f"{path}: 'images' is empty")
    missing = [i for i, p in images.items() if not p.is_file()]
    if missing:
        raise CompError(f"{path}: image id '{missing[0]}': file '{images[missing[0]].relative_to(path.parent)}' "
                        f"not found under {path.parent} ({len(missing)} such image(s))")
    return images


def read_categories(meta: dict, path: Path, images: dict[str, Path]) -> dict[str, str]:
    """Each image's ``category_id`` (as a string) from the ``annotations``."""
    categories: dict[str, str] = {}
    for n, annotation in enumerate(_entries(meta, "annotations", path)):
        where = f"annotations[{n}]"
        image_id = _ident(annotation, "image_id", where, path)
        category = _ident(annotation, "category_id", where, path)
        if image_id not in images:
            raise CompError(f"{path}: {where} names image id '{image_id}', which is not in 'images'")
        if categories.setdefault(image_id, category) != category:
            raise CompError(f"{path}: image id '{image_id}' has annotations of two categories "
                            f"('{categories[image_id]}', '{category}'); a training image has one category")
    unlabelled = [i for i in images if i not in categories]
    if unlabelled:
        raise CompError(f"{path}: image id '{unlabelled[0]}' has no annotation ({len(unlabelled)} such image(s)); "
                        f"each training image needs one with its category_id")
    return categories


def _metadata_path(competition: Competition, key: str) -> Path:
    path = competition.path(key)
    if path is None:
        raise CompError(f"layout 'coco-json' needs data.{key} (a COCO metadata JSON, e.g. "
                        f"'nybg2020/{key.split('_')[0]}/metadata.json')")
    return path


def read_coco_json(competition: Competition) -> Dataset:
    """Train rows from the train metadata's images and annotations; test rows from the test metadata's images."""
    train_path = _metadata_path(competition, "train_metadata")
    test_path = _metadata_path(competition, "test_metadata")
    meta = read_json(train_path)
    images = read_images(meta, train_path)
    categories = read_categories(meta, train_path, images)
    ids = list(images)
    labels, classes = cell_labels([categories[i] for i in ids], competition, str(train_path),
                                  lambda row: f" (image id '{ids[row]}')")
    train = pd.DataFrame({"id": ids, "path": [str(images[i]) for i in ids], "label": labels})
    test_images = read_images(read_json(test_path), test_path)
    test = in_sample_order(test_images, read_sample(competition, classes), test_path)
    return Dataset(train, test, classes)
