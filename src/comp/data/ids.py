"""How the ids of a table name the images of a folder (``data.id_form``).

- ``stem``: an id is the file's name without its extension (``0a1b`` names ``0a1b.jpg``);
  two images of one folder with one stem are an error (:func:`~comp.data.checks.by_stem`);
- ``name``: an id is the file's full name (``0a1b.jpg``);
- ``auto``: ``name`` where every id of the table ends in an image extension and names a file of
  the folder, else ``stem``; where some ids name no image either way, the form that finds more of
  them (ids that all end in an extension: ``name`` on a tie), so the error names an id that is
  really missing (``t9.jpg``), not every id read the other way.

Example::

    form = id_form(list(table["id"]), images, competition.data.id_form)
    index = images_by_id(images, folder, form)   # {"0a1b.jpg": Path(...), ...}
"""

from __future__ import annotations

import os
from pathlib import Path

from comp.data.checks import IMAGE_EXTENSIONS, by_stem


def has_image_extension(name: str) -> bool:
    """The name ends in an image extension (any case)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def id_form(ids: list[str], images: list[Path], form: str) -> str:
    """``stem`` or ``name``: how ``ids`` name ``images`` (``form`` as ``data.id_form`` says)."""
    if form != "auto":
        return form
    if not ids or not all(has_image_extension(i) for i in ids):
        return "stem"
    names, stems = {p.name for p in images}, {p.stem for p in images}
    unnamed = sum(i not in names for i in ids)
    return "name" if unnamed <= sum(i not in stems for i in ids) else "stem"


def images_by_id(images: list[Path], folder: Path, form: str) -> dict[str, Path]:
    """The images of ``folder`` by id, in their order: by stem, or by file name where ``form`` is ``name``."""
    if form == "name":
        return {p.name: p for p in images}
    return by_stem(images, folder)
