"""The test table (id, path) in submission order, and the checks of the sample submission.

Where ``data.sample_submission`` is set, the test rows are its ids (``submission.id_column``), in
its order, each naming an image of the test folder as ``data.id_form`` says (:mod:`comp.data.ids`).
Its ids and the test images must match both ways, except where the test folder is the train
folder too (plant-pathology-2020 keeps ``Train_*`` and ``Test_*`` in one ``images/``): there only the
images the sample names are read. Without a sample, the test rows are the folder's images, by
stem (``auto``, ``stem``) or by name (``name``), sorted by file name.

The sample's columns are its id column, an index column pandas wrote (``Unnamed: 0``, allowed),
and the submission's targets: ``submission.target_column`` where the kind writes one column and
``target.columns`` is empty; for class probabilities, and multi-label with ``target.columns``, one
column per class, each of ``target.columns`` (else of the class names), in any order, all of them or
some (ranzcr's sample holds 9 of its train.csv's 11 columns: the submission holds the sample's);
where ``target.columns`` is set and the kind writes one column, any. It needs rows and unique,
non-empty ids.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from comp.config.spec import Competition
from comp.data.checks import check_unique, list_images
from comp.data.dataset import read_csv_str, require_dir
from comp.data.ids import id_form, images_by_id
from comp.errors import CompError

UNNAMED_INDEX = "Unnamed: 0"  # the index column of a CSV written with index=True (iwildcam-2019)


def writes_columns(competition: Competition) -> bool:
    """The submission holds one column per class (class probabilities; multi-label from target.columns)."""
    target = competition.target
    return target.kind == "class-probabilities" or (target.kind == "multi-label" and bool(target.columns))


def sample_targets(competition: Competition, class_names: list[str]) -> list[str] | None:
    """The columns the sample holds beside its id column; None: any."""
    if writes_columns(competition):
        return list(competition.target.columns or class_names)
    return None if competition.target.columns else [competition.submission.target_column]


def _check_columns(sample: pd.DataFrame, path: Path, competition: Competition, class_names: list[str]) -> None:
    id_col, target_col = competition.submission.id_column, competition.submission.target_column
    columns = [c for c in sample.columns if c != UNNAMED_INDEX]
    if id_col not in columns:
        raise CompError(f"{path}: no column '{id_col}' (submission.id_column). Columns: {', '.join(sample.columns)}")
    targets = sample_targets(competition, class_names)
    others = [c for c in columns if c != id_col]
    if targets is None or sorted(others) == sorted(targets):
        return
    if not writes_columns(competition):
        raise CompError(f"{path}: columns {list(sample.columns)} differ from the spec's [{id_col}, {target_col}] "
                        f"(submission.id_column, submission.target_column)")
    extra = [c for c in others if c not in targets]
    source = "target.columns" if competition.target.columns else "the class names"
    if extra or not others:
        found = (f"unexpected column(s) {', '.join(repr(c) for c in extra[:3])}{' ...' if len(extra) > 3 else ''}"
                 if extra else "no class column")
        listed = ", ".join(targets[:5]) + (" ..." if len(targets) > 5 else "")
        raise CompError(f"{path}: {found}; beside submission.id_column '{id_col}' the sample holds one column "
                        f"per class, each one of {source} ({listed})")


def check_sample(sample: pd.DataFrame, path: Path, competition: Competition, class_names: list[str]) -> None:
    """The sample's columns (see the module's docstring), rows, and unique non-empty ids."""
    _check_columns(sample, path, competition, class_names)
    id_col = competition.submission.id_column
    if sample.empty:
        raise CompError(f"{path}: no rows (a header only); it must list every test id")
    empty = sample[id_col].str.strip() == ""
    if empty.any():
        raise CompError(f"{path}: empty id on line {int(empty.idxmax()) + 2}")
    check_unique(sample[id_col], str(path))


def read_sample(competition: Competition, class_names: list[str]) -> tuple[Path, list[str]] | None:
    """The sample submission's path and ids, checked; None where ``data.sample_submission`` is unset."""
    path = competition.path("sample_submission")
    if path is None:
        return None
    sample = read_csv_str(path)
    check_sample(sample, path, competition, class_names)
    return path, list(sample[competition.submission.id_column])


def in_sample_order(index: dict[str, Path], sample: tuple[Path, list[str]] | None, where: Path,
                    shared: bool = False) -> pd.DataFrame:
    """The test rows of ``index`` (id -> image) in the sample's order; without a sample, in the
    index's. The ids must match ``index``'s both ways; ``shared``: only the sample's must be there."""
    if sample is None:
        return pd.DataFrame({"id": list(index), "path": [str(p) for p in index.values()]})
    path, ids = sample
    extra = sorted(set(ids) - set(index))
    missing = [] if shared else sorted(set(index) - set(ids))
    if extra or missing:
        parts = []
        if extra:
            parts.append(f"{len(extra)} id(s) with no test image (e.g. {extra[0]!r})")
        if missing:
            parts.append(f"{len(missing)} test image(s) not in it (e.g. {missing[0]!r})")
        raise CompError(f"{path}: ids do not match the test images in {where}: " + "; ".join(parts))
    return pd.DataFrame({"id": ids, "path": [str(index[i]) for i in ids]})


def read_test(competition: Competition, class_names: list[str], train_dir: Path | None = None) -> pd.DataFrame:
    """The test rows of the test folder (``data.test``), in submission order (see the module's
    docstring); ``train_dir``: the train folder, where it may be the test folder too."""
    folder = require_dir(competition.path("test"), "test")
    images = list_images(folder)
    if not images:
        raise CompError(f"{folder}: test folder has no images")
    shared = train_dir is not None and folder.resolve() == train_dir.resolve()
    sample = read_sample(competition, class_names)
    if sample is None:
        if shared:
            raise CompError(f"{folder}: data.test is the train folder too; set data.sample_submission "
                            f"(a CSV of the test ids) to say which of its images are the test images")
        form = "name" if competition.data.id_form == "name" else "stem"
    else:
        form = id_form(sample[1], images, competition.data.id_form)
    return in_sample_order(images_by_id(images, folder, form), sample, competition.path("test"), shared)
