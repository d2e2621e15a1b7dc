"""comp.submit.manifest: the typed manifest beside each submission CSV. Written and read by the
same code; a manifest written before it existed reads and writes back byte for byte; every damage
(a key removed, a value of another type or out of range) is one CompError line naming the file and
the key; a damaged manifest is skipped with a warning where submissions are listed (comp report)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from comp.errors import CompError
from comp.submit.manifest import Blend, BlendRun, Manifest, RuleCheck, RunRecord, check_csv_suffix
from comp.submit.submission import manifests_for_run, write_submission

CSV = "submissions/tiny-blend2-20260101-000000.csv"

# A manifest as comp predict wrote it before the Manifest type (--weights oof of two runs, the
# blend keeping one run); its JSON text is json.dumps(OLD, indent=2) + "\n", as write_json wrote it.
OLD = {
    "competition": "tiny", "created_by": "comp 0.1.0",
    "runs": [{"run": "fast-5f-abc", "recipe": "fast", "folds": [0, 1, 2, 3, 4], "fold_models": 5,
              "total_folds": 5, "oof_score": 0.8646, "pretrained": False},
             {"run": "vgg-5f-def", "recipe": "vgg", "folds": [2], "fold_models": 1, "total_folds": 5,
              "oof_score": 0.85, "pretrained": False}],
    "ensemble": "mean of fold probabilities", "weights": [1.0, 0.0], "weights_mode": "oof", "tta": "flip",
    "metric": "accuracy",
    "rule_check": {"pretrained_weights_allowed": False, "external_data_allowed": False,
                   "test_data_training_allowed": False, "runs_used_pretrained": False,
                   "runs_used_test_data": False, "passed": True},
    "blend": {"method": "out-of-fold log loss, EM on the simplex", "oof_rows": 36, "metric": "accuracy",
              "oof_score": 0.8646, "oof_log_loss": 0.41,
              "runs": [{"run": "fast-5f-abc", "weight": 1.0, "oof_score": 0.8646, "oof_log_loss": 0.41},
                       {"run": "vgg-5f-def", "weight": 0.0, "oof_score": 0.85, "oof_log_loss": 0.45}],
              "note": "the log-loss optimum scored lower on accuracy out-of-fold than run fast-5f-abc alone: "
                      "that run is kept",
              "fitted_weights": [0.6, 0.4]},
    "csv": CSV, "rows": 3, "sha256": "0128aed50884c3a9e573413fe38c6ddde57c586f13b052ff11b8cdda1e714cab",
}
# Keys a manifest may lack: optional parts of the blend, and the rule-check keys added with pseudo-labels.
MAY_BE_ABSENT = {"blend.note", "blend.fitted_weights", "rule_check.test_data_training_allowed",
                 "rule_check.runs_used_test_data"}


def text(data) -> str:
    return json.dumps(data, indent=2) + "\n"


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else text(data))
    return path


def keys(data, prefix: str = ""):
    """Every key path of a manifest: ``runs[0].folds``, ``rule_check.passed``..., with its place."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        yield name, (key,)
        inner = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
        if isinstance(inner, dict):
            index = (0,) if isinstance(value, list) else ()
            for sub, place in keys(inner, f"{name}[0]." if index else f"{name}."):
                yield sub, (key, *index, *place)


def changed(place: tuple, value=None, remove: bool = False) -> dict:
    data = copy.deepcopy(OLD)
    target = data
    for step in place[:-1]:
        target = target[step]
    if remove:
        del target[place[-1]]
    else:
        target[place[-1]] = value
    return data


def wrong_type(value):
    """A JSON value of another type than ``value``."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 7
    return "x"  # a list or an object


def error(tmp_path, data) -> str:
    """The CompError line of reading ``data`` as the manifest of submissions/x.csv."""
    write(tmp_path / "submissions" / "x.json", data)
    with pytest.raises(CompError) as e:
        Manifest.read(tmp_path / "submissions" / "x.csv")
    line = str(e.value)
    assert "\n" not in line and line.startswith(f"{tmp_path / 'submissions' / 'x.json'}: ")
    return line


# --------------------------------------------------------------------------- written and read by the same code


def test_a_manifest_of_the_code_before_reads_and_writes_back_byte_for_byte(tmp_path):
    csv = tmp_path / CSV
    write(csv.with_suffix(".json"), OLD)
    read = Manifest.read(csv)
    assert read.competition == "tiny" and read.run_ids == ["fast-5f-abc", "vgg-5f-def"]
    assert read.runs[1] == RunRecord("vgg-5f-def", "vgg", [2], 1, 5, 0.85, False)
    assert read.blend.runs[0] == BlendRun("fast-5f-abc", 1.0, 0.8646, 0.41) and read.oof_score == 0.8646
    again = tmp_path / "again" / "x.csv"
    assert read.write(again) == again.with_suffix(".json")
    assert again.with_suffix(".json").read_text() == text(OLD)
    assert Manifest.read(again) == read


def test_write_submission_then_read_gives_the_same_manifest(tmp_path, a_manifest):
    frame = pd.DataFrame({"id": ["1", "2", "3"], "target": ["a", "b", "a"]})
    written = write_submission(frame, tmp_path / "subs" / "tiny-a.csv", a_manifest(("a", "b")))
    assert written.rows == 3 and written.csv == str(tmp_path / "subs" / "tiny-a.csv") and len(written.sha256) == 64
    assert Manifest.read(tmp_path / "subs" / "tiny-a.csv") == written
    assert written.oof_score is None  # two runs, no fitted blend: no one score
    assert list(json.loads((tmp_path / "subs" / "tiny-a.json").read_text())) == [
        "competition", "created_by", "runs", "ensemble", "weights", "weights_mode", "tta", "metric", "rule_check",
        "csv", "rows", "sha256"]  # no blend key where there is no blend


def test_a_blend_round_trips_and_its_optional_keys_stay_out_when_unset(tmp_path, a_manifest):
    blend = Blend("m", 36, "accuracy", 0.9, 0.3, [BlendRun("a", 0.5, 0.8, 0.4), BlendRun("b", 0.5, 0.7, 0.5)])
    frame = pd.DataFrame({"id": ["1"], "target": ["a"]})
    from dataclasses import replace

    written = write_submission(frame, tmp_path / "s.csv", replace(a_manifest(("a", "b")), weights_mode="oof",
                                                                  blend=blend))
    assert Manifest.read(tmp_path / "s.csv") == written and written.oof_score == 0.9
    assert list(json.loads((tmp_path / "s.json").read_text())["blend"]) == [
        "method", "oof_rows", "metric", "oof_score", "oof_log_loss", "runs"]


def test_a_manifest_older_than_the_test_data_rule_keys_reads_them_as_false(tmp_path):
    data = changed(("rule_check", "runs_used_test_data"), remove=True)
    del data["rule_check"]["test_data_training_allowed"]
    write(tmp_path / "x.json", data)
    check = Manifest.read(tmp_path / "x.csv").rule_check
    assert check.runs_used_test_data is False and check.test_data_training_allowed is False


def test_write_refuses_what_read_would_refuse_before_writing_anything(tmp_path, a_manifest):
    frame = pd.DataFrame({"id": ["1"], "target": ["a"]})
    bad = a_manifest(("../etc",))
    with pytest.raises(CompError, match=r"runs\[0\]\.run must be a plain name"):
        write_submission(frame, tmp_path / "s.csv", bad)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- damaged manifests


def test_every_key_removed_is_one_line_naming_the_file_and_the_key(tmp_path):
    paths = dict(keys(OLD))
    assert {"runs[0].oof_score", "rule_check.passed", "blend.runs[0].weight", "sha256"} <= set(paths)
    absent_ok = set()
    for name, place in paths.items():
        data = changed(place, remove=True)
        if name in MAY_BE_ABSENT:
            write(tmp_path / "ok.json", data)
            Manifest.read(tmp_path / "ok.csv")
            absent_ok.add(name)
            continue
        line = error(tmp_path, data)
        assert name in line, (name, line)
    assert absent_ok == MAY_BE_ABSENT


def test_without_the_blend_an_oof_weighted_manifest_is_refused(tmp_path):
    line = error(tmp_path, changed(("blend",), remove=True))
    assert "blend is missing" in line


def test_every_key_of_another_type_is_one_line_naming_the_file_and_the_key(tmp_path):
    for name, place in keys(OLD):
        target = OLD
        for step in place:
            target = target[step]
        line = error(tmp_path, changed(place, wrong_type(target)))
        assert f"{name} must be" in line, (name, line)


@pytest.mark.parametrize("place, value, fragment", [
    (("runs", 0, "oof_score"), float("nan"), "runs[0].oof_score must be finite"),
    (("blend", "oof_score"), float("inf"), "blend.oof_score must be finite"),
    (("weights",), [1.0, float("nan")], "weights must be finite"),
    (("sha256",), "0128aed5", "sha256 must be 64 hexadecimal digits"),
    (("sha256",), OLD["sha256"].upper(), "sha256 must be 64 hexadecimal digits"),
    (("competition",), "../competition/tiny", "competition must be a plain name"),
    (("runs", 1, "run"), "../../etc", "runs[1].run must be a plain name"),
    (("blend", "runs", 0, "run"), "a/b", "blend.runs[0].run must be a plain name"),
    (("runs",), [], "runs must be a non-empty list"),
    (("runs", 0, "folds"), [0, 5], "runs[0].folds must be a non-empty list of folds from 0 to 4"),
    (("runs", 0, "fold_models"), 4, "runs[0].fold_models must be the number of its folds (5)"),
    (("runs", 0, "total_folds"), 0, "runs[0].total_folds must be at least 1"),
    (("runs", 0, "fold_agreement"), [0.9, 0.95], "runs[0].fold_agreement must be 5 shares from 0 to 1, one per fold"),
    (("runs", 0, "fold_agreement"), [0.9, 0.9, 0.9, 0.9, 1.2], "runs[0].fold_agreement must be 5 shares from 0 to 1"),
    (("runs", 1, "fold_agreement"), ["all"], "runs[1].fold_agreement must be"),
    (("weights",), [1.0], "weights must be 2 number(s) >= 0, one per run"),
    (("weights",), [1.5, -0.5], "weights must be 2 number(s) >= 0"),
    (("weights_mode",), "fitted", "weights_mode must be one of 'equal', 'oof'"),
    (("ensemble",), "all", "ensemble must be one of"),
    (("tta",), "sideways", "tta must be one of"),
    (("metric",), "auc", "metric must be one of"),
    (("rows",), 0, "rows must be at least 1"),
    (("csv",), "submissions/x.txt", "csv 'submissions/x.txt': a submission's name must end in .csv"),
    (("rule_check", "passed"), False, "rule_check.passed must be true"),
    (("blend", "runs", 1, "weight"), -0.1, "blend.runs[1].weight must be at least 0"),
    (("runs", 0, "pretrained"), 0, "runs[0].pretrained must be true or false"),
    (("rows",), 3.0, "rows must be an integer"),
])
def test_a_value_out_of_range_is_one_line_naming_the_file_and_the_key(tmp_path, place, value, fragment):
    assert fragment in error(tmp_path, changed(place, value))


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "the manifest is not valid JSON"),
    ("[1, 2]", "not a comp predict manifest: it holds a list, not a JSON object"),
    ("null", "not a comp predict manifest: it holds a number or null"),
    ('{"runs": []}', "not a comp predict manifest: no key competition, created_by,"),
])
def test_a_file_that_is_no_manifest_is_one_line(tmp_path, content, fragment):
    line = error(tmp_path, content)
    assert fragment in line
    if content.startswith('{"runs"'):
        assert line.endswith("csv, rows, sha256")


def test_a_missing_manifest_is_one_line_naming_it(tmp_path):
    with pytest.raises(CompError, match=r"nope\.json: cannot read the manifest \(No such file or directory\)"):
        Manifest.read(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- the .csv suffix, in one place


@pytest.mark.parametrize("name", ["sub.json", "sub", "sub.csv.json", "sub.txt"])
def test_the_csv_suffix_check_says_what_the_manifest_would_be(name):
    with pytest.raises(CompError) as e:
        check_csv_suffix(Path(name), f"--out {name}")
    stem = Path(name).with_suffix("").name
    assert str(e.value) == (f"--out {name}: a submission's name must end in .csv (its manifest is written "
                            f"beside it as {stem}.json)")
    assert check_csv_suffix("SUB.CSV") == Path("SUB.CSV")


def test_reading_and_writing_share_the_suffix_check(tmp_path, a_manifest):
    with pytest.raises(CompError, match=r"sub\.json: a submission's name must end in \.csv"):
        Manifest.read(tmp_path / "sub.json")
    with pytest.raises(CompError, match=r"sub\.json: a submission's name must end in \.csv"):
        a_manifest().write(tmp_path / "sub.json")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- listing submissions


def good_manifests(root: Path, a_manifest) -> None:
    """submissions/tiny-r1-1 (run r1), tiny-blend2-2 (r1 and r2) and tiny-r2-3 (r2), as comp predict writes them."""
    frame = pd.DataFrame({"id": ["1", "2"], "target": ["a", "b"]})
    for name, runs in (("tiny-r1-1", ("r1",)), ("tiny-blend2-2", ("r1", "r2")), ("tiny-r2-3", ("r2",))):
        write_submission(frame, root / "submissions" / f"{name}.csv", a_manifest(runs, oof=0.5))


def test_a_damaged_manifest_is_skipped_with_one_warning_when_submissions_are_listed(tmp_path, monkeypatch, a_manifest):
    monkeypatch.chdir(tmp_path)
    good_manifests(tmp_path, a_manifest)
    damaged = json.loads((tmp_path / "submissions" / "tiny-r1-1.json").read_text())
    del damaged["runs"][0]["oof_score"]
    write(tmp_path / "submissions" / "tiny-r1-0.json", damaged)
    write(tmp_path / "submissions" / "tiny-r1-9.json", "{not json")
    said: list[str] = []
    found = manifests_for_run("r1", "tiny", said.append)
    assert [Path(m.csv).name for m in found] == ["tiny-blend2-2.csv", "tiny-r1-1.csv"]
    assert len(said) == 2 and all(line.startswith("warning: ") and "\n" not in line for line in said)
    assert "submissions/tiny-r1-0.json" in said[0] and "runs[0].oof_score" in said[0]
    assert "submissions/tiny-r1-9.json" in said[1] and "not valid JSON" in said[1]
    assert [Path(m.csv).name for m in manifests_for_run("r2", "tiny")] == ["tiny-blend2-2.csv", "tiny-r2-3.csv"]


def test_the_report_lists_the_good_submissions_beside_a_damaged_one(tmp_path, monkeypatch, a_manifest):
    from types import SimpleNamespace

    from comp.report.page import _submissions

    monkeypatch.chdir(tmp_path)
    good_manifests(tmp_path, a_manifest)
    write(tmp_path / "submissions" / "tiny-r1-0.json", {**OLD, "competition": "tiny", "sha256": "bad"})
    run = SimpleNamespace(id="r1", competition_name="tiny", competition=SimpleNamespace(name="tiny", metric="accuracy"))
    said: list[str] = []
    out = _submissions(run, said.append)
    assert "tiny-r1-1.csv" in out and "tiny-blend2-2.csv" in out and "tiny-r2-3" not in out
    assert '<td class="num">0.5000</td>' in out  # the run's OOF score
    assert len(said) == 1 and "tiny-r1-0.json: sha256 must be 64 hexadecimal digits" in said[0]


def test_comp_report_warns_of_a_damaged_manifest_and_still_writes_the_page(tiny_competition, cli, train_args,
                                                                          a_manifest):
    trained = cli(*train_args, "--folds", "2", "--fold", "0", "--run", "rep", "--set", "train.epochs=1")
    assert trained.exit_code == 0, trained.output
    good_manifests(tiny_competition, a_manifest)
    for path in (tiny_competition / "submissions").glob("*.json"):  # name the trained run
        path.write_text(path.read_text().replace('"r1"', '"rep"'))
    write(tiny_competition / "submissions" / "tiny-rep-0.json", "[]")
    result = cli("report", "rep", "-c", "tiny")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "tiny-rep-0.json" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ") and "not a comp predict manifest" in warnings[0]
    page = (tiny_competition / result.stdout.strip()).read_text()
    assert "tiny-r1-1.csv" in page and "tiny-blend2-2.csv" in page and 'id="no-submissions"' not in page
