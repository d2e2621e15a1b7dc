"""The ``coco-json`` layout for ``comp init`` (herbarium): COCO-style ``metadata.json`` files.

The train metadata is the one ``metadata.json`` (at the root or up to two folders below it) with
``annotations``; the test metadata, the other one with ``images``. Each folder of images is the
metadata's own folder (its ``file_name`` entries are relative to it, ``images/000/0.jpg``); the
labels are the annotations' ``category_id``; the sample's ids are the test images' ``id``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from comp.data.infer_files import ImageSource, Sample, is_image
from comp.data.infer_layout import Layout
from comp.errors import CompError

PATTERNS = ("metadata.json", "*/metadata.json", "*/*/metadata.json")


def load_json(path: Path) -> object:
    """A JSON file, as UTF-8 or else Latin-1 (herbarium's metadata is not valid UTF-8)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CompError(f"{path}: cannot read ({e.strerror or e})") from None
    for encoding in ("utf-8", "latin-1"):
        try:
            return json.loads(raw.decode(encoding))
        except UnicodeDecodeError:
            continue
        except json.JSONDecodeError as e:
            raise CompError(f"{path}: not valid JSON ({e}); set data.train_metadata and data.test_metadata") from None
    raise CompError(f"{path}: neither UTF-8 nor Latin-1 text")


def _images(path: Path, table: dict, root: Path) -> ImageSource:
    """The images a metadata file lists, in its own folder."""
    entries = table.get("images") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "file_name" in e for e in entries):
        raise CompError(f"{path}: 'images' must be a list of objects with 'id' and 'file_name' "
                        f"(COCO style); set data.layout")
    names = sorted(str(e["file_name"]) for e in entries if is_image(str(e["file_name"])))
    return ImageSource(path.parent.relative_to(root).as_posix(), names)


def _category_ids(path: Path, table: dict) -> pd.Series:
    """The train labels: each annotation's category_id, as a string."""
    annotations = table["annotations"]
    if not isinstance(annotations, list) or not all(isinstance(a, dict) and "category_id" in a for a in annotations):
        raise CompError(f"{path}: 'annotations' must be a list of objects with 'image_id' and 'category_id'")
    return pd.Series([str(a["category_id"]) for a in annotations], dtype=str)


def coco_layout(root: Path, sample: Sample) -> Layout | None:
    """The coco-json layout where a metadata.json with annotations exists, else None."""
    paths = [p for pattern in PATTERNS for p in sorted(root.glob(pattern)) if p.is_file()]
    loaded = [(p, load_json(p)) for p in paths]
    loaded = [(p, t) for p, t in loaded if isinstance(t, dict)]
    train = [(p, t) for p, t in loaded if t.get("annotations")]
    if not train:
        return None
    if len(train) > 1:
        raise CompError(f"{root}: several metadata files with annotations: "
                        f"{', '.join(p.relative_to(root).as_posix() for p, _ in train)}; set data.train_metadata")
    tests = [(p, t) for p, t in loaded if not t.get("annotations") and t.get("images")]
    if len(tests) != 1:
        found = ", ".join(p.relative_to(root).as_posix() for p, _ in tests) or "none"
        raise CompError(f"{root}: expected one metadata.json of the test images (with 'images', no "
                        f"'annotations'), found {found}; set data.test_metadata")
    (train_path, train_table), (test_path, test_table) = train[0], tests[0]
    test_ids = {str(e.get("id")) for e in test_table["images"] if isinstance(e, dict)}
    if len(set(sample.ids) & test_ids) < len(sample.ids) / 2:
        raise CompError(f"{sample.path}: its ids (e.g. {sample.ids.iloc[0]!r}) are not the 'id' of the images in "
                        f"{test_path.relative_to(root).as_posix()}; set submission.id_column")
    rel = {p: p.relative_to(root).as_posix() for p in (train_path, test_path)}
    why = (f"{rel[train_path]} lists the train images with annotations (category_id), "
           f"{rel[test_path]} the test images")
    return Layout("coco-json", _images(train_path, train_table, root), _images(test_path, test_table, root),
                  "auto", why, values=_category_ids(train_path, train_table), label_column="category_id",
                  keys={"train_metadata": rel[train_path], "test_metadata": rel[test_path]})
