"""The submission table of a target kind (:mod:`comp.targets.kinds`), and its validation.

The table has the sample submission's columns in its order (an unnamed index column, as
iwildcam-2019's, is kept as the sample has it); without a sample, the id column and the
kind's target columns. What a kind writes:

- class: the arg-max class, by name or index (``submission.target_format``);
- binary: the probability of ``target.positive`` (default: the last class, "1" of 0/1);
- class-probabilities: one column per class, rows summing to 1;
- grade: the grade of the expected value at the fitted cut points (:mod:`comp.targets.decisions`);
- top-k: ``target.k`` labels, best first, separated by ``target.separator`` (the "new" label
  ranked by its fitted score);
- multi-label: one probability column per class where the sample has them, else the labels
  over their fitted thresholds (at least one per row), separated by ``target.separator``;
- regression: the number.

Validation reads what a CSV holds (strings) as the competition's grader would: ids exactly the
sample's, probabilities finite in [0, 1] (class probabilities summing to 1), labels known,
top-k lists of distinct labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from comp.config.spec import Competition
from comp.data.test_rows import writes_columns
from comp.errors import CompError
from comp.targets import decisions as decide
from comp.targets.kinds import split_labels

SUM_TOLERANCE = 1e-6


def positive_index(competition: Competition, class_names: list[str]) -> int:
    """The column of the binary kind's written probability."""
    positive = competition.target.positive or class_names[-1]
    if positive not in class_names:
        raise CompError(f"target.positive = {positive!r} is not one of the classes {class_names}")
    return class_names.index(positive)


def target_columns(competition: Competition, class_names: list[str], sample_columns: list[str] | None) -> list[str]:
    """The columns the kind fills: the class columns the sample has (all classes without a sample;
    a sample may leave some of the trained ones out, as ranzcr-clip's does), or the target column."""
    if not writes_columns(competition):
        return [competition.submission.target_column]
    return [c for c in sample_columns if c in class_names] if sample_columns else list(class_names)


def _label_text(names: np.ndarray, picked: np.ndarray, separator: str) -> list[str]:
    return [separator.join(names[row]) for row in picked]


def target_values(competition: Competition, preds: np.ndarray, class_names: list[str], decisions: dict,
                  sample_columns: list[str] | None) -> dict:
    """Column -> values of the kind's targets for predictions ``preds`` (probabilities; a regression's numbers)."""
    target, submission = competition.target, competition.submission
    names, kind, col = np.asarray(class_names, dtype=object), target.kind, submission.target_column
    preds = np.asarray(preds, dtype=np.float64)
    if writes_columns(competition):
        if kind == "class-probabilities":
            preds = decide.normalised(np.clip(preds, 0, 1))
        return {c: preds[:, class_names.index(c)] for c in target_columns(competition, class_names, sample_columns)}
    if kind == "binary":
        return {col: np.clip(preds[:, positive_index(competition, class_names)], 0, 1)}
    if kind == "regression":
        return {col: preds.reshape(len(preds), -1)[:, 0]}
    chosen = decide.answers(kind, preds, decisions, target.k)
    if kind == "top-k":
        return {col: _label_text(names, chosen, target.separator)}
    if kind == "multi-label":
        return {col: [target.separator.join(names[row]) for row in chosen]}
    by_name = submission.target_format == "name"
    return {col: [class_names[i] if by_name else str(i) for i in chosen]}


def make_frame(competition: Competition, ids: list[str], preds: np.ndarray, class_names: list[str],
               decisions: dict | None = None, sample: pd.DataFrame | None = None) -> pd.DataFrame:
    """The submission table: one row per test id (``sample``'s rows and columns where given)."""
    id_col = competition.submission.id_column
    if sample is not None and list(sample[id_col]) == list(ids):
        frame = sample.copy()
    else:
        frame = pd.DataFrame({id_col: list(ids)})
    columns = None if sample is None else list(sample.columns)
    for column, values in target_values(competition, preds, class_names, decisions or {}, columns).items():
        frame[column] = list(values)
    return frame


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV text of a submission table: an unnamed index column (read as "Unnamed: 0") keeps
    the sample's empty header."""
    return frame.rename(columns=lambda c: "" if str(c).startswith("Unnamed: ") else c).to_csv(index=False)


def check_columns(frame: pd.DataFrame, competition: Competition, class_names: list[str] | None,
                  sample: pd.DataFrame | None, where: str) -> list[str]:
    """The frame's columns are the sample's (or the id and the kind's targets); returns the target columns."""
    id_col = competition.submission.id_column
    names = class_names or []
    sample_columns = None if sample is None else list(sample.columns)
    wanted = target_columns(competition, names, sample_columns) if class_names is not None else \
        [c for c in (sample_columns or frame.columns) if c != id_col and not c.startswith("Unnamed: ")]
    expected = sample_columns or [id_col, *wanted]
    if list(frame.columns) != expected:
        raise CompError(f"{where}: columns must be [{', '.join(expected)}]. Received: {list(frame.columns)}")
    return wanted


def check_targets(frame: pd.DataFrame, competition: Competition, class_names: list[str] | None,
                  columns: list[str], where: str) -> None:
    """Each kind's values, as the grader reads them."""
    id_col, target = competition.submission.id_column, competition.target
    kind = target.kind
    for col in columns:
        empty = frame[col].astype(str) == ""
        if empty.any() and kind != "multi-label":
            raise CompError(f"{where}: empty target for id '{frame[id_col][empty].iloc[0]}'")
    numeric = kind in ("binary", "regression") or (class_names is not None and len(columns) > 1)
    if numeric:
        _check_numbers(frame, columns, id_col, kind != "regression", where)
        if kind == "class-probabilities":
            sums = frame[columns].apply(pd.to_numeric).sum(axis=1).to_numpy()
            bad = np.abs(sums - 1) > SUM_TOLERANCE
            if bad.any():
                raise CompError(f"{where}: the class probabilities of id '{frame[id_col][bad].iloc[0]}' sum to "
                                f"{sums[bad][0]:.6g}, not 1")
        return
    if class_names is not None:
        _check_labels(frame[columns[0]], frame[id_col], competition, class_names, where)


def _check_numbers(frame: pd.DataFrame, columns: list[str], ids: str, probabilities: bool, where: str) -> None:
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | ((values < 0) | (values > 1) if probabilities else False)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            wanted = "a probability from 0 to 1" if probabilities else "a finite number"
            raise CompError(f"{where}: {col} of id '{frame[ids].iloc[row]}' is {frame[col].iloc[row]!r}, "
                            f"not {wanted}")


def _check_labels(targets: pd.Series, ids: pd.Series, competition: Competition, class_names: list[str],
                  where: str) -> None:
    kind, target = competition.target.kind, competition.target
    if kind in ("top-k", "multi-label"):
        known, k = set(class_names), min(target.k, len(class_names))
        for row, cell in enumerate(targets.astype(str)):
            labels = split_labels(cell, target.separator)
            unknown = [x for x in labels if x not in known]
            wrong_count = kind == "top-k" and (len(labels) != k or len(set(labels)) != k)
            if unknown or wrong_count:
                what = f"label '{unknown[0]}' is not a known class" if unknown else f"needs {k} distinct labels"
                raise CompError(f"{where}: target {cell!r} of id '{ids.iloc[row]}': {what}")
        return
    by_name = competition.submission.target_format == "name"
    allowed = class_names if by_name else [str(i) for i in range(len(class_names))]
    bad = targets[~targets.astype(str).isin(allowed)]
    if len(bad):
        what = "class name" if by_name else "class index"
        shown = ", ".join(allowed[:10]) + (" ..." if len(allowed) > 10 else "")
        raise CompError(f"{where}: target '{bad.iloc[0]}' (id '{ids[bad.index[0]]}') is not a valid {what}; "
                        f"allowed: {shown}")
