"""Atomic, durable file output: write to a fresh temporary file in the same folder, fsync it,
rename it over the target, fsync the folder.

A crash, a kill or a full disk never leaves a file that looks complete but is not, and a
file a later step trusts is on disk before that step runs. Temporary names are random and
created exclusively (``tempfile.mkstemp``), so a planted symlink is never followed; they start
with ``.tmp-``, which :func:`sweep_temporary` removes when their writer is gone.

Example::

    with atomic_path(run_dir / "metrics.json") as tmp:
        tmp.write_text(text)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from comp.errors import CompError

TMP_PREFIX = ".tmp-"


def process_umask() -> int:
    """The process's umask, read without changing it where the system reports it (Linux 4.7+:
    ``/proc/self/status``); elsewhere set and put back, which another thread could observe."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = process_umask()  # read once, at import


def fsync_dir(folder: str | Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: the folder's own entry must be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename itself is still atomic
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a new temporary path next to ``path``; fsync and rename it over ``path`` if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The real suffix last: Keras and numpy choose the format by the file's extension.
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}")
        os.close(fd)
    except OSError as e:
        raise CompError(f"{path}: cannot write ({e.strerror or e})") from None
    tmp = Path(name)
    try:
        yield tmp
        fsync_file(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0o600 would hide outputs from the others sharing a folder
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as e:
        raise CompError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path, what: str = "the folder") -> Iterator[Path]:
    """Yield a new temporary folder next to ``path``; rename it to ``path`` if the block succeeds.

    A kill leaves no folder or a complete one (:func:`sweep_temporary` removes what a killed
    writer left: the name carries its process id). ``what`` names the folder in the error line.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}"))
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide it from the others who share the folder
    except OSError as e:
        raise CompError(f"{path.parent}: cannot create {what} ({e.strerror or e})") from None
    try:
        yield tmp
        os.rename(tmp, path)
        fsync_dir(path.parent)
    except OSError as e:
        raise CompError(f"{path}: cannot create {what} ({e.strerror or e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path: str | Path, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_temporary(folder: str | Path) -> list[Path]:
    """Remove ``.tmp-<pid>-...`` files and folders in ``folder`` whose writing process is gone."""
    removed = []
    for tmp in Path(folder).glob(f"{TMP_PREFIX}*"):
        pid = tmp.name[len(TMP_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)) or tmp.is_symlink():
            continue
        if tmp.is_dir():  # a run folder being created
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
