"""Unpack a competition's archives (``train.zip``, ``test.zip``, ``train_images.tar.gz``) once.

Each archive named (a path relative to the competition folder; ``.zip``, ``.tar``, ``.tar.gz``
or ``.tgz``) becomes the folder beside it named without the suffix: ``train.zip`` ->
``train/``. Where every entry already lies under one top folder of that same name
(``train/cat/1.jpg``), that level is not doubled (``train/cat/1.jpg``, not ``train/train/...``).
Entries under ``__MACOSX/`` (resource forks a Mac's zip adds) are left out.

- Every entry is checked before anything is written: an absolute name, a ``..``, a backslash,
  a name that is not valid UTF-8 or holds a control character, a link, a device or pipe (or a
  zip entry marked as a link) is refused with one line naming the archive and the entry. A tar
  is then extracted with tarfile's ``data`` filter as well.
- The archive is unpacked into a temporary folder beside the target (``.tmp-<pid>-...``, hidden,
  removed when its process is gone) and renamed into place only when complete, so a crash never
  leaves a half-unpacked folder that looks finished.
- The target holds a hidden record, ``.comp-unpacked.json`` (the archive's size and modification
  time; the image readers ignore hidden files). An unchanged archive is not unpacked again; a
  changed one is, and its new folder replaces the old one only once complete.
- A target folder without the record (unpacked by hand) is used as it is, with one line saying
  so; so is a folder whose archive was deleted after unpacking.

Example::

    train_dir, test_dir = unpack_archives(Path("data/dogs"), ["train.zip", "test.zip"])
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable

from tqdm.auto import tqdm

from comp.errors import CompError
from comp.files.atomic import TMP_PREFIX, fsync_dir, sweep_temporary, write_json
from comp.files.locks import hold

SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")  # longest first: .tar.gz before .tar
RECORD = ".comp-unpacked.json"
SKIPPED_TOP = "__MACOSX"
BAR_ENTRIES = 500  # a progress bar from this many entries (on a terminal)
BROKEN = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, UnicodeDecodeError)


def unpack_archives(root: Path, names: list[str], say: Callable[[str], object] = print) -> list[Path]:
    """Unpack each archive ``root / name`` once into ``root / <name without suffix>``; the folders.

    All names are checked (suffix, a place inside ``root``, no two onto one folder) before any
    archive is opened. See the module's docstring.
    """
    root = Path(root)
    targets: dict[Path, str] = {}
    for name in names:
        target = _target(root, name)
        if target in targets:
            raise CompError(f"{root}: archives {targets[target]} and {name} would both unpack into {target}/; "
                            f"keep one of them")
        targets[target] = name
    return [_unpack_once(root / name, target, say) for target, name in targets.items()]


def _target(root: Path, name: str) -> Path:
    """The folder archive ``name`` unpacks into; a bad name or suffix is one CompError line."""
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or "\\" in name:
        raise CompError(f"{root}: archive {name!r} must be a path inside the folder ('train.zip', 'images/train.zip')")
    suffix = next((s for s in SUFFIXES if name.lower().endswith(s)), None)
    if suffix is None or len(rel.name) == len(suffix):
        raise CompError(f"{root / name}: unsupported archive; accepted: {', '.join(sorted(SUFFIXES))}")
    return root / rel.parent / rel.name[: -len(suffix)]


def _unpack_once(archive: Path, target: Path, say: Callable[[str], object]) -> Path:
    """Unpack ``archive`` into ``target`` unless the record says it already is (see the module)."""
    if target.exists() and not target.is_dir():
        raise CompError(f"{target}: a file, not a folder; {archive.name} unpacks into {target}/, so move the file away")
    try:
        st = archive.stat()
    except FileNotFoundError:
        if target.is_dir():
            say(f"{archive}: not found; using {target}/ as it is")
            return target
        raise CompError(f"{archive}: archive not found (nor is {target}/); download it into {archive.parent}/") from None
    stamp = {"archive": archive.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    record = _read_record(target)
    if target.is_dir() and record is None:
        say(f"{target}/: there without comp's record {RECORD}; using it as it is (not unpacking {archive.name})")
        return target
    if record == stamp:
        return target
    with _Archive(archive) as (members, extract):  # every entry checked: nothing is written before
        # one unpacking of an archive at a time: a second waits, then finds the record current
        with hold(target.parent / f".{target.name}.unpack.lock", f"the archive {archive}", "unpacked", wait=True):
            if _read_record(target) != stamp:
                if target.is_dir():
                    say(f"{archive}: changed since it was unpacked; unpacking it again into {target}/")
                _unpack(archive, members, extract, target, stamp)
    return target


def _read_record(target: Path) -> dict | None:
    """The record in ``target``; {} where it is there but unreadable (unpacked again), None where absent."""
    try:
        record = json.loads((target / RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _unpack(archive: Path, members: list, extract: Callable, target: Path, stamp: dict) -> None:
    """Extract the checked ``members`` into a temporary folder beside ``target``, rename it into place."""
    sweep_temporary(target.parent)  # what killed unpackings left behind
    _check_space(archive, target.parent, sum(size for _, _, size in members))
    try:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{target.name}"))
    except OSError as e:
        raise CompError(f"{target.parent}: cannot unpack {archive.name} there ({e.strerror or e})") from None
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the images from the others sharing the folder
        bar = tqdm(members, desc=f"unpack {archive.name}", unit="file", leave=False,
                   disable=True if len(members) < BAR_ENTRIES else None)
        for name, member, _ in bar:
            extract(member, name, tmp)
        done = tmp / target.name if _strip_top(members, target.name) else tmp
        write_json(done / RECORD, stamp)
        _replace(done, target)
    except BROKEN as e:
        raise CompError(f"{archive}: cannot unpack ({type(e).__name__}: {' '.join(str(e).split())}); "
                        f"download it again or free disk space") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace(done: Path, target: Path) -> None:
    """Rename the complete folder ``done`` to ``target``, the old ``target`` moved aside first."""
    old = None
    if target.exists():
        old = target.parent / f"{TMP_PREFIX}{os.getpid()}-old-{target.name}"  # swept if this process dies
        os.rename(target, old)
    os.rename(done, target)
    fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _Archive:
    """``with _Archive(archive) as (members, extract)``: the checked entries as (name, member, size),
    and ``extract(member, name, folder)``; an unreadable, empty or unsafe archive is one CompError line."""

    def __init__(self, archive: Path):
        """Nothing is opened before ``with``."""
        self.archive = archive
        self.handle = None

    def __enter__(self):
        """Open the archive and check every entry (a tar is read through once)."""
        archive = self.archive
        try:
            if archive.name.lower().endswith(".zip"):
                self.handle = zipfile.ZipFile(archive)
                members, extract = [_zip_entry(archive, i) for i in self.handle.infolist() if _kept(i.filename)], self._zip
            else:
                self.handle = tarfile.open(archive, "r:*", encoding="utf-8", errors="surrogateescape")
                members, extract = [_tar_entry(archive, m) for m in self.handle.getmembers() if _kept(m.name)], self._tar
            if not members:
                raise CompError(f"{archive}: the archive holds no files; download it again")
            return members, extract
        except BROKEN as e:
            self.__exit__()
            raise CompError(f"{archive}: cannot read the archive ({type(e).__name__}: {' '.join(str(e).split())}); "
                            f"download it again") from None
        except CompError:
            self.__exit__()
            raise

    def __exit__(self, *exc) -> None:
        """Close the archive."""
        if self.handle is not None:
            self.handle.close()

    def _zip(self, info: zipfile.ZipInfo, name: str, folder: Path) -> None:
        """Extract a checked zip entry under its checked name."""
        info.filename = name + ("/" if info.is_dir() else "")  # the checked name, UTF-8 (not cp437)
        self.handle.extract(info, folder)

    def _tar(self, member: tarfile.TarInfo, name: str, folder: Path) -> None:
        """Extract a checked tar member, through tarfile's ``data`` filter as well."""
        self.handle.extract(member, folder, filter="data")


def _kept(name: str) -> bool:
    """Entries unpacked: all but ``.`` (``tar -C dir .``) and Mac resource forks (``__MACOSX/``)."""
    parts = PurePosixPath(name).parts
    return bool(parts) and parts[0] != SKIPPED_TOP


def _zip_entry(archive: Path, info: zipfile.ZipInfo) -> tuple[str, zipfile.ZipInfo, int]:
    """A zip entry's checked name (UTF-8 even where its flag says cp437), itself and its size."""
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        raw = name.encode("cp437")
        try:
            name = raw.decode("utf-8")  # most zip tools write UTF-8 without setting the flag
        except UnicodeDecodeError:
            raise CompError(f"{archive}: entry {ascii(raw)[2:-1]} is not a valid UTF-8 name; rename it "
                            f"(ids and class names are written to UTF-8 CSVs)") from None
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise CompError(f"{archive}: entry {_shown(name)} is a link or special file; an archive of images "
                        f"holds files and folders only")
    return _check_name(archive, name), info, info.file_size


def _tar_entry(archive: Path, member: tarfile.TarInfo) -> tuple[str, tarfile.TarInfo, int]:
    """A tar member's checked name, itself and its size; links, devices and pipes refused."""
    if member.issym() or member.islnk():
        raise CompError(f"{archive}: entry {_shown(member.name)} is a link (to {_shown(member.linkname)}); "
                        f"an archive of images holds files and folders only")
    if not (member.isfile() or member.isdir()):
        raise CompError(f"{archive}: entry {_shown(member.name)} is a device or pipe; "
                        f"an archive of images holds files and folders only")
    return _check_name(archive, member.name), member, member.size if member.isfile() else 0


def _shown(name: str) -> str:
    """A name as a one-line message shows it: ``ascii()`` where it is not plain printable UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return ascii(name)
    return ascii(name) if any(unicodedata.category(c) == "Cc" for c in name) else repr(name)


def _check_name(archive: Path, name: str) -> str:
    """``name`` without a trailing '/', if it stays inside the folder it is unpacked into."""
    where = f"{archive}: entry {_shown(name)}"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise CompError(f"{where} is not a valid UTF-8 name; rename it (ids and class names are UTF-8)") from None
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise CompError(f"{where} holds a control character; rename it (an id is written on one line)")
    if "\\" in name:
        raise CompError(f"{where} holds a backslash; entries are '/'-separated names inside the folder")
    path = PurePosixPath(name)
    if path.is_absolute() or (name[1:2] == ":" and name[:1].isalpha()):
        raise CompError(f"{where} is an absolute path; entries must be relative to the folder they unpack into")
    if ".." in path.parts:
        raise CompError(f"{where} leads out of the folder it unpacks into (a '..'); refused, nothing was written")
    return str(path)


def _strip_top(members: list[tuple[str, object, int]], top: str) -> bool:
    """Whether every entry lies under one folder named ``top`` (``train/x.jpg`` in ``train.zip``)."""
    parts = [PurePosixPath(name).parts for name, _, _ in members]
    return all(p[0] == top for p in parts) and any(len(p) > 1 for p in parts) and all(
        len(p) > 1 or _is_dir(m) for p, (_, m, _) in zip(parts, members))


def _is_dir(member: object) -> bool:
    """Whether a zip or tar entry is a folder."""
    return member.is_dir() if isinstance(member, zipfile.ZipInfo) else member.isdir()


def _check_space(archive: Path, folder: Path, needed: int) -> None:
    """Refuse before writing where the disk cannot hold the unpacked files."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise CompError(f"{archive}: unpacking needs {needed / 2**30:.2f} GiB but {folder} has "
                        f"{free / 2**30:.2f} GiB free; free some space")
