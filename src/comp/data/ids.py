"""How the ids of a table name the images of a folder (``data.id_form``).

- ``stem``: an id is the file's name without its extension (``0a1b`` names ``0a1b.jpg``);
  two images of one folder with one stem are an error (:func:`~comp.data.checks.by_stem`);
- ``name``: an id is the file's full name (``0a1b.jpg``);
- ``auto``: ``name`` where every id of the table ends in an image extension and names a file of
  the folder, else ``stem``; where some ids name no image either way, the form that finds more of
  them (ids that all end in an extension: ``name`` on a tie), so the error names an id that is
  really missing (``t9.jpg``), not every id read the other way.

A labels CSV's ids name the images directly in its folder; where some id names none of them and the
folder has sub-folders (hotel-id-2021-fgvc8: ``train_images/<chain>/<image>.jpg``), they name the
images under it at any depth (:func:`index_ids`): each folder is checked as
:func:`~comp.data.checks.list_images` checks it, except that its sub-folders are read, not skipped
(a folder reached again through a link is read once), and two images anywhere under it with one id
are an error naming both paths.

Example::

    form = id_form(list(table["id"]), images, competition.data.id_form)
    index = images_by_id(images, folder, form)   # {"0a1b.jpg": Path(...), ...}
    index, where = index_ids(ids, folder, form)   # where: "" or " or its sub-folders"
"""

from __future__ import annotations

import os
from pathlib import Path

from comp.data.checks import (FOLDER, IMAGE_EXTENSIONS, by_stem, check_name, scan,
                              shown, warn_skipped)
from comp.errors import CompError


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


def tree_images(folder: Path) -> list[Path]:
    """The images under ``folder`` at any depth, folder by folder in name order (see the module's docstring)."""
    found, seen, todo = [], set(), [folder]
    while todo:
        current = todo.pop()
        real = os.path.realpath(current)
        if real in seen:
            continue
        seen.add(real)
        images, folders, skipped = scan(current)
        skipped.pop(FOLDER, None)
        warn_skipped(current, skipped)
        for sub in folders:
            check_name(sub)  # a part of the image's path, written on one line
        found += images
        todo += reversed(folders)
    return found


def tree_by_id(images: list[Path], folder: Path, form: str) -> dict[str, Path]:
    """The images under ``folder`` by id (stem, or name where ``form`` is ``name``); two with one id are an error."""
    out: dict[str, Path] = {}
    for p in images:
        key = p.name if form == "name" else p.stem
        if key in out:
            first, second = (shown(q.relative_to(folder).as_posix()) for q in (out[key], p))
            raise CompError(f"{shown(folder)}: two images share the id '{key}': {first}, {second} (under the "
                            f"folder); keep one of them")
        out[key] = p
    return out


def index_ids(ids: list[str], folder: Path, form: str) -> tuple[dict[str, Path], str]:
    """The images ``ids`` name, by id: those directly in ``folder``, else, where some id names none of them
    and it has sub-folders, those under it at any depth; and where they were looked for, for a message
    (``""`` or ``" or its sub-folders"``)."""
    images, folders, skipped = scan(folder)
    index = images_by_id(images, folder, id_form(ids, images, form))
    if not folders or all(i in index for i in ids):
        warn_skipped(folder, skipped)
        return index, ""
    images = tree_images(folder)
    return tree_by_id(images, folder, id_form(ids, images, form)), " or its sub-folders"
