"""``comp score``: a submission CSV scored against an answers CSV in the competition's metric,
read as its grader reads them: the answers' ids, each predicted once, and nothing else.

The answers hold what the submission holds (the same columns), or, for one class per row, the
label; what each kind compares (:mod:`comp.targets.kinds`):

- class, grade: the submitted labels (accuracy, F1, QWK of the labels as they are);
- binary, class-probabilities, multi-label columns: the submitted probabilities against the
  answers' 0/1 columns, or against the answers' label;
- top-k: the submitted ranked labels against the answers' label (MAP@5 of the first 5);
- multi-label labels: the submitted label sets against the answers';
- regression: the numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from comp import metrics
from comp.config.spec import Competition
from comp.data.checks import check_unique
from comp.data.layouts import read_csv_str
from comp.errors import CompError
from comp.targets.decisions import map_at_k
from comp.targets.kinds import multi_hot, split_labels

ON_LABELS = ("accuracy", "macro_f1", "micro_f1", "qwk")  # metrics a column of labels can be scored on


def pair_with_answers(sub: pd.DataFrame, truth: pd.DataFrame, csv: Path, answers: Path, id_col: str) -> pd.DataFrame:
    """The answers' rows beside their predictions (columns ``<name>_true``, ``<name>_pred``): ids
    unique in both, every answer predicted, no other id."""
    check_unique(sub[id_col], str(csv))
    check_unique(truth[id_col], str(answers))
    merged = truth.merge(sub, on=id_col, how="left", suffixes=("_true", "_pred"), validate="one_to_one",
                         indicator=True)
    missing = (merged["_merge"] == "left_only").to_numpy()
    if missing.any():
        raise CompError(f"{csv}: no prediction for id '{merged[id_col][missing].iloc[0]}' of {answers}")
    extra = ~sub[id_col].isin(truth[id_col]).to_numpy()
    if extra.any():
        row = int(extra.argmax())
        raise CompError(f"{csv}: id {sub[id_col].iloc[row]!r} (line {row + 2}) is not in {answers} "
                        f"({int(extra.sum())} such id(s)); score a submission against its own test set's answers")
    return merged.drop(columns="_merge")


def _numbers(values: pd.Series, where: str) -> np.ndarray:
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(out).all():
        raise CompError(f"{where}: {values[~np.isfinite(out)].iloc[0]!r} is not a number")
    return out


def _inputs(merged: pd.DataFrame, competition: Competition, columns: list[str], where: str):
    """(truth, predictions) for the metric from the merged answers and submission."""
    kind, target, metric = competition.target.kind, competition.target, competition.metric
    if len(columns) > 1:  # one column per class: probabilities against 0/1 answers
        preds = np.stack([_numbers(merged[f"{c}_pred"], where) for c in columns], axis=1)
        truth = np.stack([_numbers(merged[f"{c}_true"], where) for c in columns], axis=1)
        return (truth.argmax(1), preds) if kind == "class-probabilities" else (truth, preds)
    col = columns[0]
    true, pred = merged[f"{col}_true"].astype(str), merged[f"{col}_pred"].astype(str)
    if kind == "regression":
        return _numbers(true, where), _numbers(pred, where)[:, None]
    if kind == "binary":
        p = _numbers(pred, where)
        return _numbers(true, where).astype(np.int64), np.stack([1 - p, p], axis=1)
    if kind == "multi-label":
        sep = target.separator
        names = sorted({x for cell in pd.concat([true, pred]) for x in split_labels(cell, sep)})
        return multi_hot(true, names, sep, str(where)), multi_hot(pred, names, sep, where)
    if metric not in ON_LABELS:
        raise CompError(f"{metric} needs probabilities; a column of labels (target.kind = {kind}) can be scored "
                        f"on {', '.join(ON_LABELS)} only")
    names = sorted(set(true) | set(pred), key=lambda n: (not n.lstrip("-").isdigit(), int(n) if
                                                            n.lstrip("-").isdigit() else 0, n))
    index = {n: i for i, n in enumerate(names)}
    return true.map(index).to_numpy(), np.eye(len(names))[pred.map(index).to_numpy()]


def _ranked_score(merged: pd.DataFrame, competition: Competition, column: str) -> float:
    """MAP@5 of submitted ranked labels against the answers' label (a submitted label list is
    scored as written: only its first 5, in order)."""
    if competition.metric != "map_at_5":
        raise CompError(f"target.kind top-k is scored by map_at_5, not {competition.metric}")
    sep = competition.target.separator
    true, pred = merged[f"{column}_true"].astype(str), merged[f"{column}_pred"].astype(str)
    names = sorted({x for cell in pd.concat([true, pred]) for x in split_labels(cell, sep)})
    index = {n: i for i, n in enumerate(names)}
    ranked = np.full((len(pred), 5), -1)
    for row, cell in enumerate(pred):
        labels = [index[x] for x in split_labels(cell, sep)][:5]
        ranked[row, :len(labels)] = labels
    return map_at_k(true.map(index).to_numpy(), ranked)


def score_csv(csv: Path, answers: Path, competition: Competition) -> float:
    """The competition's metric of a submission CSV against an answers CSV."""
    id_col = competition.submission.id_column
    sub, truth = read_csv_str(csv), read_csv_str(answers)
    columns = [c for c in sub.columns if c != id_col and not c.startswith("Unnamed: ")]
    if len(columns) <= 1:
        columns = [competition.submission.target_column]
    for frame, where in ((sub, csv), (truth, answers)):
        if any(c not in frame.columns for c in (id_col, *columns)):
            raise CompError(f"{where}: needs the columns {','.join([id_col, *columns])}. "
                            f"Received: {list(frame.columns)}")
    merged = pair_with_answers(sub, truth, csv, answers, id_col)
    if competition.target.kind == "top-k":
        return _ranked_score(merged, competition, columns[0])
    truth_values, preds = _inputs(merged, competition, columns, str(csv))
    return float(metrics.score(competition.metric, truth_values, preds))
