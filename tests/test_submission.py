"""comp.submit.submission: the CSV is checked against the sample submission; the rule guard; scoring."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from comp.errors import CompError
from comp.config.spec import competition_from_dict
from comp.submit.manifest import Manifest
from comp.submit.submission import (check_rules, make_frame, score_csv, validate_csv, validate_frame,
                             write_submission)

IDS = ["00042", "00043", "00044"]
CLASSES = ["bird", "cat", "dog"]


def spec(root: Path, target_format="name", metric="accuracy", sample=True, **rules):
    data = {"root": str(root)}
    if sample:
        data["sample_submission"] = "sample.csv"
    return competition_from_dict({"name": "zoo", "metric": metric, "data": data,
                                  "submission": {"target_format": target_format}, "rules": rules}, "test spec")


@pytest.fixture
def root(tmp_path) -> Path:
    pd.DataFrame({"id": IDS, "target": "bird"}).to_csv(tmp_path / "sample.csv", index=False)
    return tmp_path


def frame(ids=IDS, targets=("cat", "dog", "bird"), columns=("id", "target")):
    return pd.DataFrame({columns[0]: list(ids), columns[1]: list(targets)})


def test_a_good_frame_passes(root):
    validate_frame(frame(), spec(root), CLASSES, "sub.csv")


@pytest.mark.parametrize("columns", [("id", "label"), ("ID", "target"), ("target", "id")])
def test_wrong_or_reordered_columns_are_an_error(root, columns):
    bad = frame(columns=columns)
    with pytest.raises(CompError) as e:
        validate_frame(bad, spec(root), CLASSES, "sub.csv")
    assert f"sub.csv: columns must be [id, target]. Received: {list(columns)}" == str(e.value)


def test_rows_in_another_order_are_an_error(root):
    with pytest.raises(CompError) as e:
        validate_frame(frame(ids=["00043", "00042", "00044"]), spec(root), CLASSES, "sub.csv")
    msg = str(e.value)
    assert "ids are not in the order of" in msg and "sample.csv" in msg
    assert "row 2: '00043', expected '00042'" in msg


def test_a_missing_row_is_an_error(root):
    with pytest.raises(CompError, match=r"sub\.csv: 2 rows, but .*sample\.csv has 3"):
        validate_frame(frame(ids=IDS[:2], targets=("cat", "dog")), spec(root), CLASSES, "sub.csv")


def test_a_missing_id_is_an_error(root):
    with pytest.raises(CompError, match=r"ids differ from .*sample\.csv: id '00044' is missing"):
        validate_frame(frame(ids=["00042", "00043", "00043"]), spec(root), CLASSES, "sub.csv")


def test_an_extra_id_is_an_error(root):
    with pytest.raises(CompError, match=r"id '00045' is not in .*sample\.csv"):
        validate_frame(frame(ids=["00042", "00043", "00045"]), spec(root), CLASSES, "sub.csv")
    with pytest.raises(CompError, match=r"4 rows, but .*sample\.csv has 3"):
        validate_frame(frame(ids=IDS + ["00045"], targets=("cat",) * 4), spec(root), CLASSES, "sub.csv")


def test_an_id_that_lost_its_leading_zeros_is_an_error(root):
    path = root / "sub.csv"
    path.write_text("id,target\n42,cat\n00043,dog\n00044,bird\n")
    with pytest.raises(CompError, match=r"sub\.csv: ids differ from .*: id '42' is not in"):
        validate_csv(path, spec(root), CLASSES)


def test_a_csv_keeps_its_leading_zeros_and_passes(root):
    path = root / "sub.csv"
    path.write_text("id,target\n00042,cat\n00043,dog\n00044,bird\n")
    got = validate_csv(path, spec(root), CLASSES)
    assert list(got["id"]) == IDS


def test_an_invalid_class_name_is_an_error(root):
    with pytest.raises(CompError) as e:
        validate_frame(frame(targets=("cat", "wolf", "bird")), spec(root), CLASSES, "sub.csv")
    msg = str(e.value)
    assert "target 'wolf' (id '00043') is not a valid class name" in msg
    assert "allowed: bird, cat, dog" in msg


def test_an_empty_target_is_an_error(root):
    with pytest.raises(CompError, match=r"empty target for id '00044'"):
        validate_frame(frame(targets=("cat", "dog", "")), spec(root), CLASSES, "sub.csv")


def test_class_index_out_of_range_is_an_error(root):
    comp = spec(root, target_format="index")
    validate_frame(frame(targets=("0", "1", "2")), comp, CLASSES, "sub.csv")
    with pytest.raises(CompError, match=r"target '3' \(id '00044'\) is not a valid class index; allowed: 0, 1, 2"):
        validate_frame(frame(targets=("0", "1", "3")), comp, CLASSES, "sub.csv")
    with pytest.raises(CompError, match=r"target 'cat' .* not a valid class index"):
        validate_frame(frame(targets=("0", "cat", "1")), comp, CLASSES, "sub.csv")


def test_without_a_sample_the_test_ids_are_the_reference(tmp_path):
    comp = spec(tmp_path, sample=False)
    validate_frame(frame(), comp, CLASSES, "sub.csv", test_ids=IDS)
    with pytest.raises(CompError, match=r"id '00045' is not in the test list"):
        validate_frame(frame(ids=["00042", "00043", "00045"]), comp, CLASSES, "sub.csv", test_ids=IDS)


def test_make_frame_writes_names_or_indices(root):
    probs = np.array([[0.1, 0.8, 0.1], [0.0, 0.2, 0.8], [0.9, 0.05, 0.05]])
    by_name = make_frame(spec(root), IDS, probs, CLASSES)
    assert list(by_name.columns) == ["id", "target"]
    assert list(by_name["target"]) == ["cat", "dog", "bird"]
    assert list(make_frame(spec(root, target_format="index"), IDS, probs, CLASSES)["target"]) == ["1", "2", "0"]


def test_write_submission_writes_csv_and_manifest_with_its_hash(root, a_manifest):
    path = root / "subs" / "zoo-run.csv"
    written = write_submission(frame(), path, a_manifest())
    text = path.read_text()
    assert text.splitlines() == ["id,target", "00042,cat", "00043,dog", "00044,bird"]
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["rows"] == 3 and manifest["csv"] == str(path)
    assert manifest["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    assert written == Manifest.read(path) and written.rows == 3


# --------------------------------------------------------------------------- rule guard


def run(run_id, pretrained=False, test_data=None):
    return SimpleNamespace(id=run_id, pretrained=pretrained, test_data=bool(test_data))  # what check_rules reads


def test_pretrained_run_is_refused_when_the_rules_forbid_it(root):
    comp = spec(root, pretrained_weights=False)
    with pytest.raises(CompError) as e:
        check_rules(comp, [run("vgg-5f-abc"), run("transfer-1f-xyz", pretrained=True)])
    msg = str(e.value)
    assert "run 'transfer-1f-xyz' used pretrained weights" in msg
    assert "zoo's rules forbid" in msg and "pretrained_weights = false" in msg


def test_pretrained_run_passes_when_the_rules_allow_it(root):
    check = check_rules(spec(root, pretrained_weights=True), [run("transfer-1f-xyz", pretrained=True)])
    assert check["passed"] is True
    assert check["pretrained_weights_allowed"] is True and check["runs_used_pretrained"] is True


def test_from_scratch_runs_pass_the_default_rules(root):
    check = check_rules(spec(root), [run("a"), run("b")])
    assert check == {"pretrained_weights_allowed": False, "external_data_allowed": False,
                     "test_data_training_allowed": False, "runs_used_pretrained": False,
                     "runs_used_test_data": False, "passed": True}


def test_a_run_trained_on_test_images_is_refused_when_the_rules_forbid_it(root):
    with pytest.raises(CompError) as e:
        check_rules(spec(root), [run("fast-5f-abc", test_data=False), run("fast-5f-pseudo", test_data=True)])
    msg = str(e.value)
    assert "run 'fast-5f-pseudo' trained on the test images" in msg
    assert "zoo's rules forbid" in msg and "test_data_training = false" in msg


def test_a_run_trained_on_test_images_passes_where_the_rules_allow_it_and_the_manifest_says_so(root):
    check = check_rules(spec(root, test_data_training=True), [run("a"), run("fast-5f-pseudo", test_data=True)])
    assert check["passed"] is True
    assert check["test_data_training_allowed"] is True and check["runs_used_test_data"] is True


def test_runs_of_older_versions_with_the_retired_external_data_flag_still_pass(root):
    # comp never trains on data outside the competition's folder, so the flag that runs used
    # to carry was always false; old runs keep it in config.toml and are not refused for it: the
    # rule check reads a run's pretrained and test_data only
    old = SimpleNamespace(id="old", pretrained=False, test_data=False, config={"run": {"external_data": False}})
    assert check_rules(spec(root), [old])["passed"] is True


# --------------------------------------------------------------------------- scoring


def write(path: Path, rows: list[tuple[str, str]]) -> Path:
    pd.DataFrame(rows, columns=["id", "target"]).to_csv(path, index=False)
    return path


def test_score_csv_accuracy_against_answers(root):
    answers = write(root / "answers.csv", [("00042", "cat"), ("00043", "dog"), ("00044", "bird")])
    sub = write(root / "sub.csv", [("00042", "cat"), ("00043", "cat"), ("00044", "bird")])
    assert score_csv(sub, answers, spec(root)) == pytest.approx(2 / 3)
    assert score_csv(answers, answers, spec(root)) == 1.0


def test_score_csv_macro_f1(root):
    answers = write(root / "answers.csv", [("1", "a"), ("2", "a"), ("3", "b"), ("4", "b")])
    sub = write(root / "sub.csv", [("1", "a"), ("2", "a"), ("3", "a"), ("4", "b")])
    # class a: P=2/3 R=1 F1=0.8; class b: P=1 R=1/2 F1=2/3
    assert score_csv(sub, answers, spec(root, metric="macro_f1")) == pytest.approx((0.8 + 2 / 3) / 2)


def test_score_csv_with_a_missing_prediction_is_an_error(root):
    answers = write(root / "answers.csv", [("00042", "cat"), ("00043", "dog")])
    sub = write(root / "sub.csv", [("00042", "cat"), ("43", "dog")])
    with pytest.raises(CompError, match=r"sub\.csv: no prediction for id '00043'"):
        score_csv(sub, answers, spec(root))


def test_score_csv_without_the_columns_is_an_error(root):
    answers = write(root / "answers.csv", [("00042", "cat")])
    sub = root / "sub.csv"
    sub.write_text("id,label\n00042,cat\n")
    with pytest.raises(CompError, match=r"sub\.csv: needs the columns id,target"):
        score_csv(sub, answers, spec(root))


def test_score_csv_refuses_log_loss(root):
    answers = write(root / "answers.csv", [("00042", "cat")])
    with pytest.raises(CompError, match="log_loss needs probabilities"):
        score_csv(answers, answers, spec(root, metric="log_loss"))


def _tiny_answers(root: Path) -> list[list[str]]:
    return pd.read_csv(root / "data" / "tiny" / "answers.csv", dtype=str).values.tolist()


def _rows_to(path: Path, rows: list[list[str]]) -> None:
    path.write_text("id,target\n" + "".join(f"{i},{t}\n" for i, t in rows))


SCORE_CASES = {  # name: (edit of the submission's rows, edit of the answers' rows, fragments of the error line)
    "an id listed twice in the submission": (
        lambda rows: rows[:8] + [rows[2]], None,
        ("error: sub.csv: duplicate id 'TEST_002' (line 10, first on line 4", "ids must be unique")),
    "an id listed twice, one more row than the answers": (
        lambda rows: rows + [[rows[2][0], "square"]], None,
        ("error: sub.csv: duplicate id 'TEST_002' (line 11, first on line 4",)),
    "an id listed twice in the answers": (
        None, lambda rows: rows + [rows[5]],
        ("error: data/tiny/answers.csv: duplicate id 'TEST_005' (line 11, first on line 7",)),
    "an id that is not in the answers": (
        lambda rows: rows + [["TEST_999", "circle"]], None,
        ("error: sub.csv: id 'TEST_999' (line 11) is not in data/tiny/answers.csv",)),
    "an id of the answers missing from the submission": (
        lambda rows: rows[:4] + rows[5:], None, ("error: sub.csv: no prediction for id 'TEST_004' of",)),
}


@pytest.mark.parametrize("case", SCORE_CASES)
def test_score_refuses_a_csv_whose_ids_do_not_pair_with_the_answers(tiny_competition, case, cli, error_line):
    edit_sub, edit_answers, fragments = SCORE_CASES[case]
    answers = tiny_competition / "data" / "tiny" / "answers.csv"
    rows = _tiny_answers(tiny_competition)
    _rows_to(tiny_competition / "sub.csv", edit_sub(rows) if edit_sub else rows)
    if edit_answers:
        _rows_to(answers, edit_answers(rows))
    error_line(cli("score", "sub.csv", "--answers", "data/tiny/answers.csv", "-c", "tiny"), *fragments)


def test_score_of_a_csv_that_pairs_with_the_answers(tiny_competition, cli):
    rows = _tiny_answers(tiny_competition)
    wrong = "square" if rows[0][1] != "square" else "circle"
    _rows_to(tiny_competition / "sub.csv", rows[::-1][:8] + [[rows[0][0], wrong]])  # any order; one wrong
    result = cli("score", "sub.csv", "--answers", "data/tiny/answers.csv", "-c", "tiny")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{8 / 9:.4f}"
