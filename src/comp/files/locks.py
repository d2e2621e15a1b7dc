"""Advisory locks (``fcntl.flock``) on runs, folds and decode caches.

A lock is a ``.lock`` file holding the owner's process id. The kernel drops a flock when its
process exits, however it exits, so a lock left by a killed process never blocks anyone:
the file may remain, the lock does not.

- A run is locked by the ``comp train`` that trains it (``runs/<competition>/.<run-id>.lock``,
  beside the run's folder, so a --restart that deletes the folder keeps the lock); a second one
  stops before it changes anything in the run, with "run X is being trained by process N".
- A fold is locked by the process that trains it (the run's own fold subprocesses, or the
  inline loop), so a stray ``comp train-fold`` cannot race the real one.
- A decode cache is locked while it is checked and written; a second decode of the same
  cache waits for the first, then finds the cache current (or rebuilds it for its own files).

Example::

    with hold(run_lock(competition.name, run_id), f"run '{run_id}'", "trained"):
        ...
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from comp.errors import CompError


def _owner(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
    except OSError:
        return "?"


@contextlib.contextmanager
def hold(path: str | Path, what: str, doing: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block; busy: CompError naming the owner (or wait)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as e:
        raise CompError(f"{path}: cannot create the lock file ({e.strerror or e})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise CompError(f"{what} is being {doing} by process {_owner(fd)} ({path}); "
                            f"wait for it to finish, or stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
