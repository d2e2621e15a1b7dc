"""mlebench's grading helpers, ported (``mlebench.competitions.utils`` and ``mlebench.metrics``):
the same checks, the same refusals (as ``InvalidSubmission``), the same metric inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn.preprocessing import MultiLabelBinarizer

from .case import InvalidSubmission


def prepare_for_auroc_metric(submission: pd.DataFrame, answers: pd.DataFrame, id_col: str,
                             target_col: str) -> dict:
    """y_true / y_score for roc_auc_score, after mlebench's checks of ids, length and probabilities."""
    assert id_col in answers.columns, f"answers dataframe should have an {id_col} column"
    assert target_col in answers.columns, f"answers dataframe should have a {target_col} column"
    if id_col not in submission.columns:
        raise InvalidSubmission(f"Submission should have an {id_col} column")
    if target_col not in submission.columns:
        raise InvalidSubmission(f"Submission should have a {target_col} column")
    if len(submission) != len(answers):
        raise InvalidSubmission("Submission and answers should have the same number of rows")
    try:
        pd.to_numeric(submission[target_col])
    except ValueError:
        raise InvalidSubmission(f"Expected {target_col} column to be numeric, got "
                                f"{submission[target_col].dtype} instead") from None
    if submission[target_col].min() < 0 or submission[target_col].max() > 1:
        raise InvalidSubmission(f"Submission {target_col} column should contain probabilities,"
                                " and therefore contain values between 0 and 1 inclusive")
    submission = submission.sort_values(id_col)
    answers = answers.sort_values(id_col)
    if (submission[id_col].values != answers[id_col].values).any():
        raise InvalidSubmission(f"Submission and answers should have the same {id_col} values")
    return {"y_true": answers[target_col].to_numpy(), "y_score": submission[target_col].to_numpy()}


def prepare_for_accuracy_metric(submission: pd.DataFrame, answers: pd.DataFrame, target_column: str,
                                id_column: str) -> dict:
    """y_true / y_pred for accuracy_score, after mlebench's checks."""
    assert target_column in answers.columns, f"Answers must have a `{target_column}` column"
    assert id_column in answers.columns, f"Answers must have a `{id_column}` column"
    if len(submission) != len(answers):
        raise InvalidSubmission("Submission must have the same length as the answers.")
    if target_column not in submission.columns:
        raise InvalidSubmission(f"Submission must have a `{target_column}` column")
    if id_column not in submission.columns:
        raise InvalidSubmission(f"Submission must have a `{id_column}` column")
    submission = submission.sort_values(id_column)
    answers = answers.sort_values(id_column)
    if (submission[id_column].values != answers[id_column].values).any():
        raise InvalidSubmission(f"Submission and Answers `{id_column}`'s do not match")
    return {"y_true": answers[target_column].to_numpy(), "y_pred": submission[target_column].to_numpy()}


def is_one_hot_encoded(xs: np.ndarray) -> bool:
    """Whether a 2D array is one-hot (0/1 entries, rows summing to 1)."""
    return bool(np.bitwise_or(xs == 0, xs == 1).all() and np.allclose(xs.sum(axis=-1), 1))


def one_hot_dfs_to_log_loss_inputs(submission: pd.DataFrame, answers: pd.DataFrame, id_column: str = "id",
                                   apply_softmax: bool = True) -> dict:
    """y_true / y_pred for log_loss from one-hot answers and a probability table with the same columns."""
    required, present = set(answers.columns), set(submission.columns)
    if not present.issuperset(required):
        raise InvalidSubmission("The submission DataFrame is missing some columns required by the "
                                f"`answers` DataFrame. Missing columns: {required - present}.")
    if id_column not in submission.columns:
        raise InvalidSubmission(f"Submission is missing id column '{id_column}'.")
    assert id_column in answers.columns, f"Answers is missing id column '{id_column}'."
    filtered = submission[[c for c in answers.columns if c in present]]
    sub = filtered.sort_values(by=id_column).reset_index(drop=True)
    ans = answers.sort_values(by=id_column).reset_index(drop=True)
    assert sub[id_column].tolist() == ans[id_column].tolist(), f"Mismatch in {id_column}s"
    assert list(sub.columns) == list(ans.columns), "Column order mismatch"
    y_true = ans.drop(columns=[id_column]).to_numpy()
    y_pred = sub.drop(columns=[id_column]).to_numpy()
    if apply_softmax and not is_one_hot_encoded(y_pred):
        y_pred = softmax(y_pred, axis=-1)
    return {"y_true": y_true, "y_pred": y_pred}


def df_to_one_hot(df: pd.DataFrame, id_column: str, target_column: str, classes: list[str]) -> pd.DataFrame:
    """Class labels as one-hot columns (``id_column`` then one 0/1 column per class)."""
    out = pd.DataFrame(0, index=df.index, columns=[id_column] + classes)
    out[id_column] = df[id_column]
    for i, row in df.iterrows():
        out.loc[i, row[target_column]] = 1
    return out


def average_precision_at_k(actual: set, predicted: list, k: int) -> float:
    """AP@k of a ranked prediction against a set of right answers (mlebench.metrics)."""
    predicted = predicted[:k]
    score, hits = 0.0, 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    if not actual:
        return 0.0
    return score / min(len(actual), k)


def mean_average_precision_at_k(actual: list[set], predicted: list[list], k: int) -> float:
    """MAP@k over rows."""
    return float(np.mean([average_precision_at_k(a, p, k) for a, p in zip(actual, predicted)]))


def multilabel_inputs(submission: pd.DataFrame, answers: pd.DataFrame, id_col: str, labels_col: str) -> tuple:
    """Sparse y_true / y_pred for a micro F1 over space-separated label lists (plant-pathology-2021,
    imet-2020), after their graders' checks; the classes are those the answers name."""
    assert id_col in answers.columns and labels_col in answers.columns, "Answers lack columns"
    if id_col not in submission.columns:
        raise InvalidSubmission(f"Submission DataFrame must have an '{id_col}' column.")
    if labels_col not in submission.columns:
        raise InvalidSubmission(f"Submission DataFrame must have a '{labels_col}' column.")
    if len(submission) != len(answers):
        raise InvalidSubmission("Submission and answers DataFrames must have the same number of rows.")
    submission = submission.sort_values(by=id_col).reset_index(drop=True)
    answers = answers.sort_values(by=id_col).reset_index(drop=True)
    if (submission[id_col].values != answers[id_col].values).any():
        raise InvalidSubmission(f"Submission and answers DataFrames must have matching '{id_col}' columns.")
    truth = answers[labels_col].fillna("").astype(str)
    guess = submission[labels_col].fillna("").astype(str)
    classes = set(truth.str.split().explode().dropna().unique())
    mlb = MultiLabelBinarizer(classes=sorted(classes), sparse_output=True)
    y_true = mlb.fit_transform(truth.str.split())
    with warnings.catch_warnings():  # labels the answers never name are dropped (with a warning) as in mlebench
        warnings.simplefilter("ignore", UserWarning)
        y_pred = mlb.transform(guess.str.split())
    return y_true, y_pred
