"""Names that become paths, and the roots every write and delete must stay inside.

A run id, a competition's name, a backbone's name in a run id: each becomes one folder or file
name under a root (``runs/``, ``data/.cache/``, ``submissions/``). :func:`check_name` accepts
only plain names (letters, digits, ``.``, ``_``, ``-``; no leading dot, no ``..``), so
``--run ..`` or ``name = "../.."`` is refused with one line before anything is written.
:func:`inside` resolves a path (symlinks too) and refuses one that leaves its root.

Example::

    run_dir = RUNS_DIR / check_name(competition.name, "name") / check_name(run_id, "--run")
    shutil.rmtree(inside(RUNS_DIR, run_dir))  # never anything outside runs/
"""

from __future__ import annotations

import re
from pathlib import Path

from comp.errors import CompError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_name(value: str, key: str, where: str = "") -> str:
    """``value`` if it is a plain file name; else a CompError naming the file, the key and the rule."""
    if not isinstance(value, str) or not NAME.fullmatch(value) or ".." in value:
        prefix = f"{where}: " if where else ""
        raise CompError(f"{prefix}{key} must be a plain name (letters, digits, '.', '_' and '-', starting with "
                        f"a letter or digit, at most 128 characters, no '..'). Received: {key}={value!r}")
    return value


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` resolved, if it lies inside ``root`` (resolved too); else a CompError."""
    root_resolved, resolved = Path(root).resolve(), Path(path).resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise CompError(f"{path}: outside {root}/; comp writes and deletes only inside it")
    return resolved
