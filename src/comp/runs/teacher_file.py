"""A student's ``teacher.npz`` (:mod:`comp.train.teacher`), read back checked as every run file is
(:mod:`comp.runs.artefacts`): the distillation targets of its training rows, and the
pseudo-labelled test rows with their targets and loss weight."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from comp.errors import CompError
from comp.runs.artefacts import NPZ_HEADER, _bad, _fits, _load_numpy, check_probs

TARGET_KEYS = ("train", "pseudo_index", "pseudo", "pseudo_weight")
TARGETS_ADVICE = ("delete it and run the student's comp train again (with its --distill/--pseudo-label): its "
                  "targets are made again from its teachers")


def read_targets(path: Path, n_rows: int, classes: int, distill: bool, pseudo: bool, n_test: int | None,
                 advice: str = TARGETS_ADVICE) -> dict:
    """A student's teacher.npz (:mod:`comp.train.teacher`): ``train`` (targets of the ``n_rows`` training rows)
    to distill; ``pseudo_index`` (of ``n_test`` test rows), ``pseudo`` and ``pseudo_weight`` to pseudo-label."""
    arrays = _load_numpy(path, advice, NPZ_HEADER, ".npz")
    wanted = (["train"] if distill else []) + (list(TARGET_KEYS[1:]) if pseudo else [])
    for key in [*wanted, *arrays]:
        if key not in arrays:
            raise CompError(f"{path}: {key} is missing; {advice}")
        if key not in wanted:
            raise CompError(f"{path}: holds {key}, which this run does not use (it uses "
                            f"{', '.join(wanted) or 'none'}); {advice}")
    if distill:
        check_probs(arrays["train"], f"{path}: train", n_rows, classes, advice, "folds.csv gives {} training rows")
    if pseudo:
        _check_pseudo(arrays, path, classes, n_test, advice)
    return arrays


def _check_pseudo(arrays: dict, path: Path, classes: int, n_test: int | None, advice: str) -> None:
    index, weight = arrays["pseudo_index"], arrays["pseudo_weight"]
    if index.dtype.kind not in "iu" or index.ndim != 1 or (len(index) and index.min() < 0):
        raise CompError(f"{path}: pseudo_index must be a list of test rows (integers of at least 0). "
                        f"Received: dtype {index.dtype}, shape {index.shape}; {advice}")
    if len(np.unique(index)) != len(index):
        raise CompError(f"{path}: pseudo_index names a test row twice; {advice}")
    if n_test is not None and len(index) and index.max() >= n_test:
        raise CompError(f"{path}: pseudo_index holds test row {index.max()}, but the competition has {n_test} test "
                        f"images; {advice}")
    check_probs(arrays["pseudo"], f"{path}: pseudo", len(index), classes, advice, "pseudo_index names {} test rows")
    value = weight.reshape(-1)[0].item() if weight.size == 1 and weight.dtype.kind in "fiu" else weight.tolist()
    if not _fits(value, float, 0, None) or value == 0:
        raise _bad(str(path), "pseudo_weight", "a finite number above 0", value, advice)
