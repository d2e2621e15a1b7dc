"""The 16 competitions' ``grade(submission, answers)``, ported from mlebench's grade.py files: the
same refusals (``InvalidSubmission``), the same metric calls. Where the original would fail with a
KeyError on a missing id column (aptos), the port refuses it first, as the other graders do."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, cohen_kappa_score, f1_score, log_loss, roc_auc_score,
                             root_mean_squared_error)

from .case import InvalidSubmission
from .helpers import (mean_average_precision_at_k, multilabel_inputs, one_hot_dfs_to_log_loss_inputs,
                      prepare_for_accuracy_metric, prepare_for_auroc_metric)
from .names import DOG_BREEDS, PLANT_2020_COLUMNS, RANZCR_GRADED


def _auroc(submission: pd.DataFrame, answers: pd.DataFrame, id_col: str, target_col: str) -> float:
    """ROC AUC of one column, after ``prepare_for_auroc_metric``'s checks."""
    inputs = prepare_for_auroc_metric(submission, answers, id_col=id_col, target_col=target_col)
    return float(roc_auc_score(y_true=inputs["y_true"], y_score=inputs["y_score"]))


def grade_histopathologic(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """ROC AUC of ``label`` by ``id``."""
    return _auroc(submission, answers, "id", "label")


def grade_cactus(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """ROC AUC of ``has_cactus`` by ``id``."""
    return _auroc(submission, answers, "id", "has_cactus")


def grade_siim(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """ROC AUC of ``target`` by ``image_name``."""
    return _auroc(submission, answers, "image_name", "target")


def grade_dogs_vs_cats(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Log loss of the dog probability ``label`` by ``id``."""
    assert "id" in answers.columns and "label" in answers.columns, "Answers lack id/label"
    if "id" not in submission.columns:
        raise InvalidSubmission("Submission is missing `id` column")
    if "label" not in submission.columns:
        raise InvalidSubmission("Submission is missing `label` column")
    if set(submission["id"]) != set(answers["id"]):
        raise InvalidSubmission("Submission and answers have different id's")
    if len(submission) != len(answers):
        raise InvalidSubmission("Submission and answers have different lengths")
    if not ((submission["label"] >= 0) & (submission["label"] <= 1)).all():
        raise InvalidSubmission("All values in submission `label` column must be between 0 and 1.")
    submission, answers = submission.sort_values("id"), answers.sort_values("id")
    return float(log_loss(answers["label"], submission["label"]))  # positional: sklearn 1.9 renames y_pred


def grade_dog_breed(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Multi-class log loss over one probability column per breed, rows summing to one."""
    if not all(dog in submission.columns for dog in DOG_BREEDS):
        raise InvalidSubmission(f"Submission must have columns for all dogs: {DOG_BREEDS}")
    if "id" not in submission.columns:
        raise InvalidSubmission("Submission must have an `id` column")
    if len(submission) != len(answers):
        raise InvalidSubmission("Submission should be the same length as the answers")
    assert "id" in answers.columns and all(d in answers.columns for d in DOG_BREEDS), "Answers lack columns"
    if not np.all(np.isclose(submission[DOG_BREEDS].sum(axis=1), 1, atol=1e-6)):
        raise InvalidSubmission("Dog probabilities in each row in submission should sum to one, as probabilities.")
    if not ((submission[DOG_BREEDS] >= 0) & (submission[DOG_BREEDS] <= 1)).all().all():
        raise InvalidSubmission("All probabilities in submission DataFrame must be between 0 and 1.")
    inputs = one_hot_dfs_to_log_loss_inputs(submission, answers, id_column="id", apply_softmax=False)
    return float(log_loss(inputs["y_true"], inputs["y_pred"]))


def grade_plant_2020(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Mean column-wise ROC AUC over healthy, multiple_diseases, rust, scab."""
    expected = ["image_id"] + PLANT_2020_COLUMNS
    assert set(answers.columns) == set(expected), f"Expected answers columns {expected}"
    if len(submission) != len(answers):
        raise InvalidSubmission(f"Expected submission to have {len(answers)} rows but got {len(submission)}")
    if set(submission.columns) != set(expected):
        raise InvalidSubmission(f"Expected submission to have columns {expected} but got {submission.columns}")
    sub = submission.sort_values(by="image_id").reset_index(drop=True)
    ans = answers.sort_values(by="image_id").reset_index(drop=True)
    if not all(sub["image_id"] == ans["image_id"]):
        raise InvalidSubmission("Submission and answers DataFrames must have matching 'image_id' columns.")
    return float(np.mean([roc_auc_score(y_true=ans[c], y_score=sub[c]) for c in PLANT_2020_COLUMNS]))


def grade_plant_2021(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Micro F1 over the space-separated ``labels`` by ``image``."""
    y_true, y_pred = multilabel_inputs(submission, answers, "image", "labels")
    return float(f1_score(y_true=y_true, y_pred=y_pred, average="micro"))


def grade_imet(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Micro F1 over the space-separated ``attribute_ids`` by ``id``."""
    y_true, y_pred = multilabel_inputs(submission, answers, "id", "attribute_ids")
    return float(f1_score(y_true=y_true, y_pred=y_pred, average="micro"))


def grade_ranzcr(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Mean ROC AUC over mlebench's 9 graded classes, by ``StudyInstanceUID``."""
    for name in RANZCR_GRADED:
        assert name in answers.columns, f"Missing class {name} in answers."
        if name not in submission.columns:
            raise InvalidSubmission(f"Class {name} is not in the submission.")
    assert len(submission) == len(answers), f"Expected {len(answers)} rows in submission, got {len(submission)}."
    return float(np.average([_auroc(submission, answers, "StudyInstanceUID", c) for c in RANZCR_GRADED]))


def grade_aptos(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Quadratic weighted kappa of ``diagnosis`` by ``id_code``."""
    if "diagnosis" not in submission.columns:
        raise InvalidSubmission("Submission must contain the target column 'diagnosis'")
    if "id_code" not in submission.columns:  # the port's addition: the original raises KeyError
        raise InvalidSubmission("Submission must contain the id column 'id_code'")
    assert "diagnosis" in answers.columns and not answers.empty, "Answers lack diagnosis"
    if submission.empty:
        raise InvalidSubmission("Submission DataFrame should not be empty")
    if set(submission["id_code"]) != set(answers["id_code"]):
        raise InvalidSubmission("Submission must have the same id_codes as answers")
    y_pred = submission.sort_values(by="id_code")["diagnosis"].values
    y_true = answers.sort_values(by="id_code")["diagnosis"].values
    return float(cohen_kappa_score(y_pred, y_true, weights="quadratic"))


def grade_whale(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """MAP@5 of the space-separated whale ``Id`` ranking by ``Image``."""
    assert set(answers.columns) == {"Image", "Id"}, "Answers DataFrame must have 'Image' and 'Id' columns."
    if set(submission.columns) != {"Image", "Id"}:
        raise InvalidSubmission("Submission DataFrame must have 'Image' and 'Id' columns.")
    if len(submission) != len(answers):
        raise InvalidSubmission("Submission and answers DataFrames must have the same number of rows.")
    if set(submission["Image"]) != set(answers["Image"]):
        raise InvalidSubmission("Submission and answers have different Image IDs")
    submission = submission.sort_values("Image").reset_index(drop=True)
    answers = answers.sort_values("Image").reset_index(drop=True)
    actual = answers["Id"].astype(str).str.split(" ").apply(set).tolist()
    predicted = submission["Id"].astype(str).str.split(" ").tolist()
    return mean_average_precision_at_k(actual=actual, predicted=predicted, k=5)


def _ids_and_targets(submission: pd.DataFrame, answers: pd.DataFrame, id_col: str, target_col: str) -> tuple:
    """The checks the seedlings, herbarium and iwildcam graders share; rows sorted by id."""
    assert id_col in answers.columns and target_col in answers.columns, "Answers lack columns"
    if len(submission) != len(answers):
        raise InvalidSubmission(f"Submission length {len(submission)} != answers length {len(answers)}")
    if id_col not in submission.columns or target_col not in submission.columns:
        raise InvalidSubmission(f"Submission must have '{id_col}' and '{target_col}' columns")
    submission, answers = submission.sort_values(id_col), answers.sort_values(id_col)
    if (submission[id_col].values != answers[id_col].values).any():
        raise InvalidSubmission(f"Submission and answers have mismatched '{id_col}' columns")
    return answers[target_col].tolist(), submission[target_col].tolist()


def grade_seedlings(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Micro F1 (accuracy) of ``species`` by ``file``."""
    y_true, y_pred = _ids_and_targets(submission, answers, "file", "species")
    return float(f1_score(y_true=y_true, y_pred=y_pred, average="micro"))


def grade_herbarium(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Macro F1 of the category ``Predicted`` by ``Id``."""
    y_true, y_pred = _ids_and_targets(submission, answers, "Id", "Predicted")
    return float(f1_score(y_true=[int(y) for y in y_true], y_pred=[int(y) for y in y_pred], average="macro"))


def grade_iwildcam(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Macro F1 of ``Category`` by ``Id``."""
    y_true, y_pred = _ids_and_targets(submission, answers, "Id", "Category")
    return float(f1_score(y_true=[int(y) for y in y_true], y_pred=[int(y) for y in y_pred], average="macro"))


def grade_cassava(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """Accuracy of ``label`` by ``image_id``."""
    inputs = prepare_for_accuracy_metric(submission, answers, target_column="label", id_column="image_id")
    return float(accuracy_score(**inputs))


def grade_petfinder(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    """RMSE of ``Pawpularity`` (1-100) by ``Id``."""
    assert "Id" in answers.columns and "Pawpularity" in answers.columns, "Answers lack columns"
    assert answers["Pawpularity"].between(1, 100).all(), "Pawpularity in answers should be between 1 and 100"
    if "Id" not in submission.columns:
        raise InvalidSubmission("Missing Id column in submission")
    if "Pawpularity" not in submission.columns:
        raise InvalidSubmission("Missing Pawpularity column in submission")
    if not submission["Pawpularity"].between(1, 100).all():
        raise InvalidSubmission("Pawpularity in submission should be between 1 and 100")
    submission, answers = submission.sort_values("Id"), answers.sort_values("Id")
    if (submission["Id"].values != answers["Id"].values).any():
        raise InvalidSubmission("IDs in submission do not match IDs in answers")
    return float(root_mean_squared_error(answers["Pawpularity"].to_numpy(), submission["Pawpularity"].to_numpy()))
