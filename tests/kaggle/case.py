"""The competition side of one Kaggle case: its dataclass, its refusal and how its CSVs are read.

Nothing here imports ``comp``: these modules stand for the competition (the files a competitor is
given and the grader that scores a submission), independent of the code under test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

METRICS = ("accuracy", "macro_f1", "micro_f1", "log_loss", "roc_auc", "mean_roc_auc", "qwk",
           "map_at_5", "rmse")


class InvalidSubmission(Exception):
    """A submission the grader refuses (mlebench's ``InvalidSubmissionError``)."""


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV read as mlebench reads submissions and answers: pandas' defaults (mlebench also asks
    for round-trip floats, an option pandas 3 deprecates; no value written here needs it)."""
    return pd.read_csv(path)


@dataclass(frozen=True)
class KaggleCase:
    """One competition: ``build(public, private, seed=0, scale=1)`` writes the public files in the
    competition's exact layout and the private answers (``private / answers_file``) in the form
    ``grade(submission, answers) -> float`` reads; ``metric`` names the grading metric."""

    name: str
    metric: str
    answers_file: str
    higher_is_better: bool
    build: Callable[..., None]
    grade: Callable[[pd.DataFrame, pd.DataFrame], float]
    sample_submission: str = "sample_submission.csv"

    def __post_init__(self) -> None:
        """Refuse a metric name outside ``METRICS``."""
        if self.metric not in METRICS:
            raise ValueError(f"{self.name}: unknown metric {self.metric!r}")

    def constant_submission(self, public: Path) -> pd.DataFrame:
        """The sample submission as given: a constant prediction that a trained model must beat."""
        return read_csv(Path(public) / self.sample_submission)

    def answers(self, private: Path) -> pd.DataFrame:
        """The private answers, read as the grader reads them."""
        return read_csv(Path(private) / self.answers_file)

    def perfect_submission(self, public: Path, private: Path) -> pd.DataFrame:
        """The answers in the sample submission's columns (those the answers hold): a submission
        that scores the best possible value (probabilities 0/1, exact targets)."""
        sample = self.constant_submission(public)
        answers = self.answers(private)
        return answers[[c for c in sample.columns if c in answers.columns]].copy()

    def grade_csv(self, submission: Path, private: Path) -> float:
        """Score a submission file against the private answers."""
        return self.grade(read_csv(Path(submission)), self.answers(private))

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is strictly better than score ``b`` under this metric."""
        if math.isnan(a):
            return False
        return a > b if self.higher_is_better else a < b
