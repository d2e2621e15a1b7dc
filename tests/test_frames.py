"""The submission table of each target kind (comp.submit.frames) and its score against answers
(comp.submit.scoring)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from comp.config.spec import competition_from_dict
from comp.errors import CompError
from comp.submit.frames import make_frame
from comp.submit.scoring import score_csv
from comp.submit.submission import validate_frame

IDS = ["a.jpg", "b.jpg", "c.jpg"]
PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
NAMES = ["0", "1", "2"]


def spec(root: Path, kind: str, metric: str = "accuracy", sample: str | None = None, **target):
    table = {"name": "t", "metric": metric, "data": {"root": str(root), "layout": "class-folders"},
             "target": {"kind": kind, **target},
             "submission": {"id_column": "id", "target_column": "label"}}
    if sample:
        (root / "sample.csv").write_text(sample)
        table["data"]["sample_submission"] = "sample.csv"
    return competition_from_dict(table, "t.toml")


def test_binary_writes_the_positive_class_probability(tmp_path):
    comp = spec(tmp_path, "binary", "roc_auc")
    frame = make_frame(comp, IDS, PROBS[:, :2] / PROBS[:, :2].sum(1, keepdims=True), ["cat", "dog"])
    assert list(frame.columns) == ["id", "label"]
    assert frame["label"].tolist() == pytest.approx([2 / 9, 0.75, 5 / 7])
    validate_frame(frame, comp, ["cat", "dog"], "sub.csv", IDS)
    positive_cat = spec(tmp_path, "binary", "roc_auc", positive="cat")
    assert make_frame(positive_cat, IDS, np.array([[0.9, 0.1]] * 3), ["cat", "dog"])["label"].tolist() == [0.9] * 3


def test_class_probabilities_follow_the_sample_and_sum_to_one(tmp_path):
    sample = "id,2,0,1\na.jpg,0.3,0.3,0.4\nb.jpg,0.3,0.3,0.4\nc.jpg,0.3,0.3,0.4\n"
    comp = spec(tmp_path, "class-probabilities", "log_loss", sample)
    frame = make_frame(comp, IDS, PROBS, NAMES, sample=pd.read_csv(tmp_path / "sample.csv", dtype=str))
    assert list(frame.columns) == ["id", "2", "0", "1"]  # the sample's order
    assert frame[["0", "1", "2"]].to_numpy() == pytest.approx(PROBS)
    validate_frame(frame, comp, NAMES, "sub.csv")
    frame.loc[0, "0"] = 0.9
    with pytest.raises(CompError, match="the class probabilities of id 'a.jpg' sum to 1.2, not 1"):
        validate_frame(frame, comp, NAMES, "sub.csv")


def test_grade_uses_the_fitted_cut_points(tmp_path):
    comp = spec(tmp_path, "grade", "qwk")
    expected = PROBS @ np.arange(3)  # 0.4, 1.5, 1.1
    assert make_frame(comp, IDS, PROBS, NAMES)["label"].tolist() == ["0", "2", "1"]  # arg-max
    cut = make_frame(comp, IDS, PROBS, NAMES, {"cuts": [0.3, 1.2]})["label"].tolist()
    assert cut == ["1", "2", "1"] and expected.tolist() == pytest.approx([0.4, 1.5, 1.1])


def test_top_k_writes_k_distinct_labels_with_the_new_label_ranked_by_its_score(tmp_path):
    comp = spec(tmp_path, "top-k", "map_at_5", k=2, new_label="new")
    names = ["new", "w1", "w2"]
    assert make_frame(comp, IDS, PROBS, names)["label"].tolist() == ["new w1", "w2 w1", "w1 w2"]
    ranked = make_frame(comp, IDS, PROBS, names, {"new_index": 0, "new_score": 0.55})["label"].tolist()
    assert ranked == ["new w1", "w2 new", "new w1"]
    frame = pd.DataFrame({"id": IDS, "label": ["new w1", "w1 w1", "w2 new"]})
    with pytest.raises(CompError, match="target 'w1 w1' of id 'b.jpg': needs 2 distinct labels"):
        validate_frame(frame, comp, names, "sub.csv")


def test_multi_label_writes_labels_over_thresholds_or_columns(tmp_path):
    comp = spec(tmp_path, "multi-label", "micro_f1")
    probs = np.array([[0.9, 0.6, 0.1], [0.2, 0.3, 0.1], [0.1, 0.2, 0.8]])
    names = ["rust", "scab", "healthy"]
    assert make_frame(comp, IDS, probs, names)["label"].tolist() == ["rust scab", "scab", "healthy"]  # at least one
    strict = make_frame(comp, IDS, probs, names, {"thresholds": [0.95, 0.5, 0.5]})["label"].tolist()
    assert strict == ["scab", "scab", "healthy"]
    sample = "id,rust,scab,healthy\n" + "".join(f"{i},0,0,0\n" for i in IDS)
    columns = spec(tmp_path, "multi-label", "mean_roc_auc", sample, columns=names)  # 0/1 columns: written as such
    frame = make_frame(columns, IDS, probs, names, sample=pd.read_csv(tmp_path / "sample.csv", dtype=str))
    assert frame[names].to_numpy() == pytest.approx(probs)
    validate_frame(frame, columns, names, "sub.csv")


def test_regression_writes_numbers_and_refuses_a_non_number(tmp_path):
    comp = spec(tmp_path, "regression", "rmse")
    frame = make_frame(comp, IDS, np.array([[12.5], [99.0], [1.0]]), ["Pawpularity"])
    assert frame["label"].tolist() == [12.5, 99.0, 1.0]
    validate_frame(frame, comp, ["Pawpularity"], "sub.csv", IDS)
    frame["label"] = frame["label"].astype(object)
    frame.loc[1, "label"] = "nan"
    with pytest.raises(CompError, match="label of id 'b.jpg' is 'nan', not a finite number"):
        validate_frame(frame, comp, ["Pawpularity"], "sub.csv", IDS)


def test_an_index_column_of_the_sample_is_kept(tmp_path):
    sample = ",id,label\n0,a.jpg,0\n1,b.jpg,0\n2,c.jpg,0\n"
    comp = spec(tmp_path, "class", "macro_f1", sample)
    frame = make_frame(comp, IDS, PROBS, NAMES, sample=pd.read_csv(tmp_path / "sample.csv", dtype=str))
    assert list(frame.columns) == ["Unnamed: 0", "id", "label"]
    assert frame["Unnamed: 0"].tolist() == ["0", "1", "2"] and frame["label"].tolist() == ["0", "2", "1"]
    validate_frame(frame, comp, NAMES, "sub.csv")


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_score_csv_of_each_kind(tmp_path):
    answers = _csv(tmp_path / "answers.csv", "id,label\na,1\nb,0\nc,1\nd,0\n")
    sub = _csv(tmp_path / "sub.csv", "id,label\na,0.9\nb,0.2\nc,0.4\nd,0.6\n")
    assert score_csv(sub, answers, spec(tmp_path, "binary", "roc_auc")) == pytest.approx(0.75)
    whale = _csv(tmp_path / "whale.csv", "id,label\na,w1 new w2\nb,new w1 w2\nc,w2 w1 new\nd,w1 w2 new\n")
    truth = _csv(tmp_path / "whale_answers.csv", "id,label\na,new\nb,new\nc,w1\nd,w3\n")
    top = spec(tmp_path, "top-k", "map_at_5", k=3)
    assert score_csv(whale, truth, top) == pytest.approx((1 / 2 + 1 + 1 / 2 + 0) / 4)
    pets = _csv(tmp_path / "pets.csv", "id,label\na,10\nb,20\nc,30\nd,40\n")
    pets_truth = _csv(tmp_path / "pets_truth.csv", "id,label\na,12\nb,18\nc,30\nd,40\n")
    assert score_csv(pets, pets_truth, spec(tmp_path, "regression", "rmse")) == pytest.approx(np.sqrt(8 / 4))
    grades = _csv(tmp_path / "grades.csv", "id,label\na,2\nb,0\nc,10\nd,1\n")
    grade_truth = _csv(tmp_path / "grade_truth.csv", "id,label\na,2\nb,0\nc,10\nd,2\n")
    from sklearn.metrics import cohen_kappa_score

    qwk = cohen_kappa_score([2, 0, 10, 2], [2, 0, 10, 1], weights="quadratic")
    assert score_csv(grades, grade_truth, spec(tmp_path, "grade", "qwk")) == pytest.approx(qwk)
