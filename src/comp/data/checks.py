"""The checks :mod:`comp.data.layouts` runs on what a real data folder holds.

What a folder of images may hold, and what becomes of it:

- image files (an extension in :data:`IMAGE_EXTENSIONS`, any case): read; ``.npy`` arrays and
  ``.dcm`` DICOM files are images too, normalised to uint8 RGB as :mod:`comp.data.decode` says
  (DICOM needs the ``dicom`` extra);
- hidden files and folders (``.DS_Store``, ``.ipynb_checkpoints``) and the files an operating
  system leaves behind (``Thumbs.db``, ``desktop.ini``): ignored, silently;
- other files (``notes.txt``, ``scan.pdf``), folders inside an image folder (a class folder's
  images must lie directly in it) and special files (a pipe, socket or device, never opened):
  skipped, with one warning per folder naming them;
- a link to a missing file with an image extension: an error naming the link and its target;
- two images with one id (``TEST_1.png`` and ``TEST_1.jpg``): an error naming both;
- an image or class folder whose name is not valid UTF-8 (``bad\\xff.png``), or an image whose name holds
  a control character (a newline): an error showing the name as ``ascii()`` does. Ids and class
  names are written to UTF-8 CSVs and printed in one-line messages, so such a name is refused
  rather than read (renaming the file is the fix).

The warnings are :class:`DataWarning`: shown once per folder and message whatever Python's warning
filters say (``PYTHONWARNINGS=ignore`` hid them, ``-W error`` made them a crash), unless a filter
names :class:`DataWarning` itself.

Class names (folder names, labels of a labels CSV, lines of ``classes.txt``) are kept exactly,
non-ASCII letters included, but a name with leading or trailing whitespace or an invisible
character (U+200B and the like), and two names that differ only in case, spacing or Unicode
form (``cat``/``Cat``, ``hot dog``/``hot\\xa0dog``), are errors that show the names' ``repr``.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
import warnings
from pathlib import Path, PurePosixPath
from typing import Callable

import pandas as pd

from comp.errors import CompError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".npy", ".dcm"}
SYSTEM_FILES = {"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r"}

IMAGE, IGNORED = "image", "ignored"
NOT_IMAGE = "file(s) without an image extension"
FOLDER = "folder(s) (images must lie directly in the folder)"
SPECIAL = "special file(s) (not a regular file: a pipe, socket or device)"


class DataWarning(UserWarning):
    """Entries of a data folder that comp skips (see the module's docstring)."""


def shown(text: str | Path) -> str:
    """A name or path as a message shows it: as is, or as ``ascii()`` shows it where it is not valid
    UTF-8 or holds a control character (a newline would split the message's line)."""
    text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ascii(text)
    return ascii(text) if any(unicodedata.category(c) == "Cc" for c in text) else text


def check_name(p: Path, control: bool = True) -> None:
    """A name that becomes an id or a class name is valid UTF-8 and, with ``control``, holds no control
    character (see the module's docstring)."""
    where = f"{shown(p.parent)}: the name {ascii(p.name)}"
    try:
        p.name.encode("utf-8")
    except UnicodeEncodeError:
        raise CompError(f"{where} is not valid UTF-8; rename it to a UTF-8 name (ids and class names "
                        f"are written to UTF-8 CSVs)") from None
    hidden = [c for c in p.name if unicodedata.category(c) == "Cc"] if control else []
    if hidden:
        raise CompError(f"{where} holds the control character U+{ord(hidden[0]):04X}; rename it "
                        f"(an id is written on one line)")


def entry_kind(p: Path) -> str:
    """What an entry of an image folder is (see the module's docstring); never opens it."""
    if p.name.startswith(".") or p.name.lower() in SYSTEM_FILES:
        return IGNORED
    try:
        mode = p.stat().st_mode  # follows a link
    except FileNotFoundError:
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            raise CompError(f"{shown(p)}: a link to a missing file ({shown(os.readlink(p))}); "
                            f"restore its target or remove the link") from None
        return NOT_IMAGE
    except OSError as e:
        raise CompError(f"{shown(p)}: cannot read ({e.strerror or e})") from None
    if stat.S_ISDIR(mode):
        return FOLDER
    if not stat.S_ISREG(mode):
        return SPECIAL
    if p.suffix.lower() not in IMAGE_EXTENSIONS:
        return NOT_IMAGE
    check_name(p)
    return IMAGE


def entries(folder: Path) -> list[Path]:
    """A folder's entries, sorted by name."""
    try:
        return sorted(folder.iterdir())
    except OSError as e:
        raise CompError(f"{shown(folder)}: cannot list the folder ({e.strerror or e})") from None


def warn_skipped(folder: Path, skipped: dict[str, list[str]]) -> None:
    """One :class:`DataWarning` per kind of entry skipped in ``folder``, naming the first three."""
    if not any(f[2] is DataWarning for f in warnings.filters):  # before any other filter: see the docstring
        warnings.filterwarnings("default", category=DataWarning)
    for kind, names in skipped.items():
        listed = ", ".join(shown(n) for n in names[:3]) + (" ..." if len(names) > 3 else "")
        warnings.warn(f"{shown(folder)}: skipped {len(names)} {kind}: {listed}", DataWarning, stacklevel=3)


def scan(folder: Path) -> tuple[list[Path], list[Path], dict[str, list[str]]]:
    """A folder's images, its sub-folders, and what :func:`list_images` skips by
    kind (the sub-folders among them), each sorted by name; nothing is warned yet."""
    images, folders, skipped = [], [], {}
    for p in entries(folder):
        kind = entry_kind(p)
        if kind == IMAGE:
            images.append(p)
        elif kind != IGNORED:
            skipped.setdefault(kind, []).append(p.name)
            if kind == FOLDER:
                folders.append(p)
    return images, folders, skipped


def list_images(folder: Path) -> list[Path]:
    """Image files in ``folder`` (not recursive), sorted by name; what else it holds is ignored
    or skipped with a warning as the module's docstring says."""
    images, _, skipped = scan(folder)
    warn_skipped(folder, skipped)
    return images


def by_stem(paths: list[Path], folder: Path) -> dict[str, Path]:
    """Images of one folder by id (the file's stem); two files with one stem are an error."""
    out: dict[str, Path] = {}
    for p in paths:
        if p.stem in out:
            raise CompError(f"{folder}: two images share the id '{p.stem}': {out[p.stem].name}, {p.name}; "
                            f"keep one of them")
        out[p.stem] = p
    return out


def check_unique(ids: pd.Series, where: str, lines: list[int] | None = None) -> None:
    """Unique ids; ``lines``: each row's line in ``where`` (default: a CSV's, after its header).
    The error names the first repeated id, its line and the line it was first on."""
    dup = ids[ids.duplicated()]
    if len(dup):
        rows = [ids.index.get_loc(i) for i in (ids[ids == dup.iloc[0]].index[0], dup.index[0])]
        first, line = (lines[r] if lines is not None else r + 2 for r in rows)
        raise CompError(f"{where}: duplicate id {dup.iloc[0]!r} (line {line}, first on line {first}; "
                        f"{len(dup)} duplicate(s)); ids must be unique")


def _name_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_class_names(names: list[str], where: str, locate: Callable[[str], str] = lambda name: "") -> None:
    """Refuse class names that differ from what they look like (see the module's docstring)."""
    seen: dict[str, str] = {}
    for name in names:
        if name != name.strip():
            raise CompError(f"{where}: class {name!r}{locate(name)} has leading or trailing whitespace; "
                            f"remove it (class names are compared exactly)")
        hidden = [c for c in name if unicodedata.category(c) in ("Cf", "Cc")]
        if hidden:
            raise CompError(f"{where}: class {name!r}{locate(name)} holds the invisible character "
                            f"U+{ord(hidden[0]):04X}; remove it")
        key = _name_key(name)
        other = seen.get(key)
        if other == name:
            raise CompError(f"{where}: class {name!r}{locate(name)} is listed twice")
        if other is not None:
            same_look = unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", name)
            points = f" (code points {ascii(other)} and {ascii(name)})" if same_look else ""
            raise CompError(f"{where}: classes {other!r}{locate(other)} and {name!r}{locate(name)}{points} "
                            f"differ only in case, spacing or Unicode form; spell them one way")
        seen[key] = name


def check_class_line(cls: str, where: str) -> None:
    """A line of ``classes.txt`` names one folder directly inside the images folder."""
    if cls in (".", "..") or any(c in cls for c in "/\\\0"):
        raise CompError(f"{where}: class {cls!r} is not a folder name (no '/', '\\', NUL, '.' or '..')")


def check_list_entry(entry: str, where: str, images_dir: Path) -> None:
    """A list entry names a file inside the images folder: relative, '/'-separated, no way out.

    Checked on the entry's text (``a/../../b`` leaves, ``a/./b`` stays); links that the data's own
    owner put inside the images folder are followed as they are.
    """
    if "\\" in entry or "\0" in entry:
        raise CompError(f"{where}: entry {entry!r} holds a backslash or NUL; entries are '<class>/<name>' "
                        f"with '/' between them")
    if PurePosixPath(entry).is_absolute() or re.match(r"^[A-Za-z]:", entry):
        raise CompError(f"{where}: entry {entry!r} is an absolute path; entries are '<class>/<name>' "
                        f"inside {images_dir}")
    norm = os.path.normpath(entry)
    if norm in (".", "..") or norm.startswith("../"):
        raise CompError(f"{where}: entry {entry!r} leads out of {images_dir}; entries are '<class>/<name>' "
                        f"inside it")
