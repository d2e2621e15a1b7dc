"""The submission ledger (comp.submit.ledger) and CV against the leaderboard (comp.submit.leaderboard):
comp lb, comp lb add, comp lb fetch (a fake Kaggle client); the one typed loader of ledger.csv (each
column damaged in turn), a person's own columns kept, rows that follow the file's sha256, scores in
their metric's range (comp.metrics.RANGES)."""

from __future__ import annotations

import csv as csvlib
import hashlib
import io
import json
import types
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from comp import metrics
from comp.submit import upload
from comp.submit.leaderboard import lb_warnings
from comp.submit.ledger import COLUMNS, scores_frame


def write_ledger(rows: list[dict]) -> None:
    """submissions/ledger.csv from partial rows (competition zoo, metric accuracy, the rest blank)."""
    base = {c: "" for c in COLUMNS} | {"competition": "zoo", "metric": "accuracy"}
    full = [base | {"time": f"2025-03-0{i + 1}T10:00:00+00:00", "csv": f"submissions/zoo-{i + 1}.csv"} | row
            for i, row in enumerate(rows)]
    pd.DataFrame(full, columns=COLUMNS).to_csv("submissions/ledger.csv", index=False)


def ledger() -> pd.DataFrame:
    return pd.read_csv("submissions/ledger.csv", dtype=str, keep_default_na=False)


@pytest.fixture
def work(tmp_path, monkeypatch, write_spec):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "submissions").mkdir()
    write_spec()
    return tmp_path


def scored(oofs, publics, std=""):
    return [{"oof": str(o), "oof_std": std, "public": str(p), "message": f"try {i + 1}"}
            for i, (o, p) in enumerate(zip(oofs, publics))]


def table_row(stdout: str, csv: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines() if f" {csv} " in line)


# --------------------------------------------------------------------------- comp lb


def test_lb_prints_the_table_the_correlation_and_warns_within_the_seed_spread(work, cli):
    rows = scored([0.800, 0.820, 0.822, 0.840, 0.860], [0.790, 0.805, 0.815, 0.830, 0.845], std="0.004")
    write_ledger([{"competition": "other", "oof": "0.1", "public": "0.9"}] + rows + [{"oof": "0.87"}])  # + pending
    res = cli("lb")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "zoo: 6 submission(s), metric accuracy"
    assert lines[1].split() == ["n", "time", "csv", "oof", "oof_std", "public", "private", "message"]
    assert table_row(res.stdout, "zoo-4.csv") == ["4", "2025-03-04", "10:00", "zoo-4.csv", "0.8220", "0.0040",
                                                  "0.8150", "-", "try", "3"]
    assert table_row(res.stdout, "zoo-7.csv")[3:8] == ["zoo-7.csv", "0.8700", "-", "-", "-"]  # not scored yet
    assert "zoo-1.csv" not in res.stdout  # another competition's row
    assert lines[-1] == "CV vs public LB: Spearman rank correlation 1.00 over 5 submissions"
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: submissions #3 (zoo-3.csv) and #4 (zoo-4.csv): their OOF scores differ by "
                        "0.0020, less than the seed spread 0.0040, their public scores by 0.0100: choosing "
                        "between them is choosing on the public leaderboard"]
    assert (work / "submissions" / "lb.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote submissions/lb.png" in res.stderr


def test_lb_warns_of_nothing_where_cv_and_lb_agree_beyond_the_spread(work, cli):
    write_ledger(scored([0.800, 0.820, 0.830, 0.840, 0.860], [0.790, 0.805, 0.815, 0.830, 0.845], std="0.004"))
    res = cli("lb")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[-1] == "CV vs public LB: Spearman rank correlation 1.00 over 5 submissions"
    assert "warning" not in res.stderr


def test_lb_without_a_spread_warns_where_the_public_score_improved_while_cv_got_worse(work, cli):
    write_ledger(scored([0.80, 0.82, 0.81, 0.83, 0.84], [0.79, 0.80, 0.82, 0.81, 0.83]))
    res = cli("lb")
    assert res.exit_code == 0, res.output
    # ranks of oof 1 3 2 4 5, of public 1 2 4 3 5: rho = 1 - 6 * 6 / (5 * 24)
    assert res.stdout.splitlines()[-1] == "CV vs public LB: Spearman rank correlation 0.70 over 5 submissions"
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: submissions #2 (zoo-2.csv) and #3 (zoo-3.csv): the public score improved by "
                        "0.0200 while the OOF score got worse by 0.0100 (no seed spread known: comp train "
                        "--seeds N measures it): following the public leaderboard here goes against the CV"]


def test_lb_says_when_too_few_submissions_have_both_scores(work, cli):
    write_ledger(scored([0.80, 0.82], [0.79, 0.80]) + [{"oof": "0.83"}])
    res = cli("lb")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[-1] == ("CV vs public LB: a rank correlation needs 3 submissions with both "
                                           "scores; 2 have both")


def test_lower_is_better_for_log_loss():
    frame = scores_frame(pd.DataFrame([{c: "" for c in COLUMNS} | {"csv": f"s{i}.csv", "oof": o, "public": p}
                                       for i, (o, p) in enumerate([("0.50", "0.60"), ("0.52", "0.58")])]))
    assert len(lb_warnings(frame, "log_loss")) == 1  # the LB loss fell while the OOF loss rose
    assert lb_warnings(frame, "accuracy") == []  # the OOF accuracy rose: the LB's fall goes with the CV


def test_lb_without_a_ledger_is_one_line(work, cli, submit_error_line):
    submit_error_line(cli("lb"), "submissions/ledger.csv: no submissions recorded yet")


def test_a_malformed_ledger_is_one_line_naming_the_file(work, cli, submit_error_line):
    (work / "submissions" / "ledger.csv").write_text("when,what\n1,2\n")
    submit_error_line(cli("lb"), "submissions/ledger.csv: not a comp ledger: no column time")
    write_ledger([{"oof": "0.8", "public": "high"}])
    submit_error_line(cli("lb"), "submissions/ledger.csv: row 2, column public: 'high' is not a number")


# --------------------------------------------------------------------------- comp lb add


def sha_of(csv: str) -> str:
    """The sha256 the manifest beside ``csv`` records."""
    return json.loads(Path(csv).with_suffix(".json").read_text())["sha256"]


def test_lb_add_records_the_scores_of_a_ledger_row(work, cli, write_run, write_csv):
    write_run("a")
    a = write_csv("zoo-a.csv")
    write_ledger([{"csv": str(a), "sha256": sha_of(a), "message": "first"},
                  {"csv": "submissions/zoo-c.csv", "sha256": "c" * 64},
                  {"csv": str(a), "sha256": sha_of(a), "message": "again"}])
    res = cli("lb", "add", "submissions/zoo-a.csv", "0.8646", "--private", "0.861")
    assert res.exit_code == 0, res.output
    assert res.stderr == "updated submissions/zoo-a.csv in submissions/ledger.csv: public 0.8646, private 0.861\n"
    got = ledger()
    assert got[["public", "private"]].values.tolist() == [["", ""], ["", ""], ["0.8646", "0.861"]]  # the latest
    assert cli("lb", "add", "./submissions/zoo-a.csv", "0.85").exit_code == 0  # the same file, another spelling
    assert ledger()["public"].tolist() == ["", "", "0.85"]


def test_lb_add_adds_a_csv_submitted_by_hand_from_its_manifest(work, cli, write_run, write_csv):
    write_run("a")
    csv = write_csv()
    res = cli("lb", "add", str(csv), "0.85", "-m", "by hand")
    assert res.exit_code == 0, res.output
    assert res.stderr == "added submissions/zoo-a.csv in submissions/ledger.csv: public 0.85\n"
    row = ledger().iloc[0]
    manifest_sha = pd.read_json(work / "submissions" / "zoo-a.json", typ="series")["sha256"]
    assert (row["csv"], row["sha256"], row["runs"], row["oof"], row["public"], row["private"], row["message"]) == \
        ("submissions/zoo-a.csv", manifest_sha, "a", "0.81", "0.85", "", "by hand")


def test_lb_add_refuses_a_csv_without_a_manifest_or_a_score_that_is_no_number(work, cli, submit_error_line):
    (work / "submissions" / "x.csv").write_text("id,target\n1,a\n")
    submit_error_line(cli("lb", "add", "submissions/x.csv", "0.8"), "submissions/x.csv: no manifest")
    assert not (work / "submissions" / "ledger.csv").exists()
    submit_error_line(cli("lb", "add", "submissions/x.csv", "nan"), "submissions/x.csv: no manifest")


# --------------------------------------------------------------------------- comp lb fetch


class FakeKaggle:
    def __init__(self, submissions):
        self.submissions, self.calls = submissions, []

    def competition_submissions(self, competition):
        self.calls.append(competition)
        return self.submissions


def when(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, 5, tzinfo=timezone.utc)


def sub(file, description, date, public, private=""):
    """A submission as kaggle >= 1.7 returns it (snake_case attributes, scores as strings)."""
    return types.SimpleNamespace(file_name=file, description=description, date=date, public_score=public,
                                 private_score=private, status="COMPLETE")


def test_lb_fetch_fills_in_the_scores_of_kaggle_submissions(work, monkeypatch, cli):
    write_ledger([
        {"competition": "other", "csv": "submissions/zoo-1.csv"},
        {"csv": "submissions/zoo-1.csv", "message": "one", "time": "2025-03-01T10:00:00+00:00"},
        {"csv": "submissions/zoo-2.csv", "message": "two", "time": "2025-03-02T10:00:00+00:00"},
        {"csv": "submissions/zoo-2.csv", "message": "two again", "time": "2025-03-02T11:00:00+00:00"},
        {"csv": "submissions/zoo-3.csv", "message": "three"},
        {"csv": "submissions/zoo-4.csv", "message": "never reached kaggle"},
        {"csv": "submissions/zoo-5.csv", "message": "five", "time": "2025-03-05T10:00:00+00:00"},
        {"csv": "submissions/zoo-5.csv", "message": "five", "time": "2025-03-05T12:00:00+00:00"},
    ])
    fake = FakeKaggle([  # newest first, as Kaggle lists them
        sub("zoo-5.csv", "five", when(5, 12), "0.86"),
        sub("zoo-5.csv", "five", when(5, 10), "0.85"),
        {"fileName": "zoo-3.csv", "description": "three", "date": "2025-03-03T10:00:05Z",  # kaggle < 1.7: dicts
         "publicScore": None, "privateScore": None, "status": "pending"},
        sub("zoo-2.csv", "two again", when(2, 11), "0.83", "0.825"),
        sub("zoo-2.csv", "two", when(2, 10), "0.82"),
        {"fileName": "zoo-1.csv", "description": "one", "date": "2025-03-01T10:00:05Z",
         "publicScore": "0.81", "privateScore": "0.80"},
    ])
    monkeypatch.setattr(upload, "kaggle_api", lambda: fake)
    res = cli("lb", "fetch")
    assert res.exit_code == 0, res.output
    assert fake.calls == ["zoo-slug"]
    assert res.stderr == ("submissions/ledger.csv: 5 scored, 1 pending, 1 not among the latest Kaggle "
                          "submissions of zoo-slug\n")
    got = ledger()
    assert got[["public", "private"]].values.tolist() == [
        ["", ""],  # another competition's row with the same file name
        ["0.81", "0.8"], ["0.82", ""], ["0.83", "0.825"], ["", ""], ["", ""], ["0.85", ""], ["0.86", ""]]
    again = cli("lb")
    assert again.exit_code == 0 and "Spearman" not in again.stdout  # no OOF scores in these rows


def test_lb_fetch_needs_a_kaggle_competition(work, monkeypatch, cli, submit_error_line, write_spec, dacon_platform):
    monkeypatch.setattr(upload, "kaggle_api", lambda: pytest.fail("the client was reached"))
    write_ledger([{"csv": "submissions/zoo-1.csv"}])
    write_spec(dacon_platform)
    submit_error_line(cli("lb", "fetch"), "comp lb fetch reads Kaggle's submission list", "platform is dacon",
                      "comp lb add")
    write_spec(platform="")
    submit_error_line(cli("lb", "fetch", "-c", "zoo"), "no [platform] table")


def test_lb_fetch_turns_a_failing_list_into_one_line(work, monkeypatch, cli, submit_error_line):
    class Down:
        def competition_submissions(self, competition):
            raise ConnectionError("no route to host")

    monkeypatch.setattr(upload, "kaggle_api", lambda: Down())
    write_ledger([{"csv": "submissions/zoo-1.csv"}])
    submit_error_line(cli("lb", "fetch"), "kaggle: cannot list the submissions of 'zoo-slug'", "no route to host")


# --------------------------------------------------------------------------- a person's columns (issue 30)


def write_rows(header: list[str], rows: list[list[str]]) -> None:
    """submissions/ledger.csv as a person's editor may leave it: any header, any rows."""
    out = io.StringIO()
    csvlib.writer(out, lineterminator="\n").writerows([header] + rows)
    Path("submissions/ledger.csv").write_text(out.getvalue())


def a_row(**values) -> dict:
    return {c: "" for c in COLUMNS} | {"time": "2025-03-01T10:00:00+00:00", "competition": "zoo",
                                       "metric": "accuracy"} | values


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("extra, order", [
    ("notes", ["notes"] + COLUMNS), ("notes", COLUMNS[:3] + ["notes"] + COLUMNS[3:]),
    ("notes", COLUMNS[::-1] + ["notes"]), ("n", COLUMNS + ["n"]),  # comp lb's own table has an n
], ids=["first", "middle", "last-reversed", "named-n"])
def test_lb_add_keeps_a_column_a_person_added_whatever_the_order(work, cli, write_run, write_csv, extra, order):
    write_run("a")
    write_run("b")
    a = write_csv("zoo-a.csv", runs=("a",))
    b = write_csv("zoo-b.csv", runs=("b",))
    b.write_text(b.read_text().replace("dog", "cat"))  # another file: its own sha256 ...
    b.with_suffix(".json").write_text(b.with_suffix(".json").read_text().replace(sha_of(a), sha256_of(b)))
    rows = [a_row(csv=str(a), sha256=sha_of(a), runs="a", oof="0.81", **{extra: "first try, with a comma\nand a line"}),
            a_row(csv="submissions/old.csv", **{extra: "kept too"})]
    write_rows(order, [[r[c] for c in order] for r in rows])
    assert cli("lb", "add", str(a), "0.84").exit_code == 0  # updates row 1
    res = cli("lb", "add", str(b), "0.85")  # adds row 3
    assert res.exit_code == 0, res.output
    got = ledger()
    assert list(got.columns) == order
    assert got[extra].tolist() == ["first try, with a comma\nand a line", "kept too", ""]
    assert got["public"].tolist() == ["0.84", "", "0.85"]
    assert got["sha256"].tolist() == [sha_of(a), "", sha256_of(b)]
    res = cli("lb")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1].split() == ["n", "time", "csv", "oof", "oof_std", "public", "private",
                                                  "message"]


# --------------------------------------------------------------------------- rows follow the file's sha256 (issue 30)


def test_lb_add_after_the_csv_was_replaced_adds_a_row_and_keeps_the_old_rows_score(work, cli, write_run, write_csv,
                                                                                     a_manifest):
    from comp.submit.submission import write_submission

    write_run("a")
    write_run("b")
    csv = write_csv("zoo-a.csv", runs=("a",), oof=0.81)
    old = sha_of(csv)
    assert cli("lb", "add", str(csv), "0.80").exit_code == 0
    # comp predict --out submissions/zoo-a.csv --force: a new file, a new manifest, the same path
    write_submission(pd.DataFrame({"id": ["001", "002", "003"], "target": ["dog", "dog", "cat"]}), csv,
                     a_manifest(("b",), 0.83, "zoo"))
    new = sha_of(csv)
    assert new != old
    res = cli("lb", "add", str(csv), "0.85")
    assert res.exit_code == 0, res.output
    assert res.stderr == "added submissions/zoo-a.csv in submissions/ledger.csv: public 0.85\n"
    got = ledger()
    assert got[["csv", "sha256", "runs", "oof", "public"]].values.tolist() == [
        ["submissions/zoo-a.csv", old, "a", "0.81", "0.8"], ["submissions/zoo-a.csv", new, "b", "0.83", "0.85"]]


def test_lb_add_refuses_a_csv_changed_since_its_manifest_and_writes_nothing(work, cli, submit_error_line,
                                                                             write_run, write_csv):
    write_run("a")
    csv = write_csv()
    assert cli("lb", "add", str(csv), "0.80").exit_code == 0
    before = (work / "submissions" / "ledger.csv").read_bytes()
    csv.write_text(csv.read_text().replace("dog", "cat"))  # edited by hand: no longer the manifest's file
    submit_error_line(cli("lb", "add", str(csv), "0.90"), "submissions/zoo-a.csv: its sha256",
                      "differs from its manifest's")
    assert (work / "submissions" / "ledger.csv").read_bytes() == before


# --------------------------------------------------------------------------- scores in the metric's range (issue 30)


@pytest.mark.parametrize("score, fragments", [
    ("1.5", ["1.5 is out of range", "accuracy scores are in [0, 1]"]),
    ("86.46", ["86.46 is out of range", "accuracy scores are in [0, 1]", "scores are fractions: 0.8646?"]),
    ("-0.5", ["-0.5 is out of range", "accuracy scores are in [0, 1]"]),
    ("nan", ["nan is out of range", "accuracy scores are in [0, 1]"]),
    ("inf", ["inf is out of range", "accuracy scores are in [0, 1]"]),
])
def test_lb_add_refuses_a_score_outside_the_metrics_range_before_writing(work, cli, submit_error_line, write_run,
                                                                         write_csv, score, fragments):
    write_run("a")
    csv = write_csv()
    line = submit_error_line(cli("lb", "add", "--", str(csv), score), *fragments)
    assert line.startswith("error: submissions/zoo-a.csv: public score ")
    assert not (work / "submissions" / "ledger.csv").exists()
    assert cli("lb", "add", str(csv), "0.8").exit_code == 0
    before = (work / "submissions" / "ledger.csv").read_bytes()
    submit_error_line(cli("lb", "add", str(csv), "0.81", "--private", score), "private score", *fragments)
    assert (work / "submissions" / "ledger.csv").read_bytes() == before


def test_a_log_loss_score_is_finite_and_0_or_more(work, cli, submit_error_line, write_run, a_manifest):
    from comp.submit.submission import write_submission

    write_run("a")
    csv = Path("submissions/zoo-a.csv")
    write_submission(pd.DataFrame({"id": ["001"], "target": ["cat"]}), csv,
                     replace(a_manifest(("a",), 0.41, "zoo"), metric="log_loss"))
    for score in ("-0.3", "inf"):
        submit_error_line(cli("lb", "add", "--", str(csv), score), f"{score} is out of range",
                          "log_loss scores are finite and 0 or more")
    assert not (work / "submissions" / "ledger.csv").exists()
    assert cli("lb", "add", str(csv), "2.5").exit_code == 0  # a poor log loss, but one
    assert ledger()["public"].tolist() == ["2.5"]


def test_every_metric_has_its_range_in_one_table():
    assert set(metrics.RANGES) == set(metrics.METRICS)
    assert metrics.range_problem("accuracy", 0.0) is None and metrics.range_problem("macro_f1", 1.0) is None
    assert metrics.range_problem("log_loss", 7.0) is None
    assert metrics.range_problem("macro_f1", 1.01) == ("1.01 is out of range: macro_f1 scores are in [0, 1] "
                                                       "(scores are fractions: 0.0101?)")


@pytest.mark.parametrize("column, value, problem", [
    ("public", "86.46", "86.46 is out of range: accuracy scores are in [0, 1] (scores are fractions: 0.8646?)"),
    ("oof", "-0.5", "-0.5 is out of range: accuracy scores are in [0, 1]"),
    ("private", "inf", "inf is out of range: accuracy scores are in [0, 1]"),
    ("public", "nan", "nan is out of range: accuracy scores are in [0, 1]"),
    ("oof_std", "-0.01", "'-0.01' is not a seed spread"),
])
def test_lb_refuses_a_ledger_row_with_a_score_out_of_range_in_one_line(work, cli, submit_error_line,
                                                                        column, value, problem):
    write_ledger(scored([0.80, 0.82, 0.83], [0.79, 0.80, 0.81]))
    frame = ledger()
    frame.loc[1, column] = value
    frame.to_csv("submissions/ledger.csv", index=False)
    submit_error_line(cli("lb"), f"submissions/ledger.csv: row 3, column {column}: {problem}")
    assert not (work / "submissions" / "lb.png").exists()


def test_a_negative_log_loss_in_the_ledger_is_refused(work, cli, submit_error_line):
    write_ledger([{"metric": "log_loss", "oof": "0.4", "public": "0.5"}, {"metric": "log_loss", "public": "-0.2"}])
    submit_error_line(cli("lb"), "submissions/ledger.csv: row 3, column public: -0.2 is out of range: "
                                 "log_loss scores are finite and 0 or more")


def test_lb_fetch_skips_a_score_out_of_range_with_a_warning(work, monkeypatch, cli):
    write_ledger([{"csv": "submissions/zoo-1.csv", "message": "one"},
                  {"csv": "submissions/zoo-2.csv", "message": "two"},
                  {"csv": "submissions/zoo-3.csv", "message": "three"}])
    fake = FakeKaggle([sub("zoo-3.csv", "three", when(3), "-0.1"),
                       sub("zoo-2.csv", "two", when(2), "86.46", "0.85"),
                       sub("zoo-1.csv", "one", when(1), "0.81", "inf")])
    monkeypatch.setattr(upload, "kaggle_api", lambda: fake)
    res = cli("lb", "fetch")
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [  # in the ledger's order
        "warning: kaggle: zoo-1.csv (2025-03-01 10:00): private score inf is out of range: accuracy scores are in "
        "[0, 1]; not recorded",
        "warning: kaggle: zoo-2.csv (2025-03-02 10:00): public score 86.46 is out of range: accuracy scores are in "
        "[0, 1] (scores are fractions: 0.8646?); not recorded",
        "warning: kaggle: zoo-3.csv (2025-03-03 10:00): public score -0.1 is out of range: accuracy scores are in "
        "[0, 1]; not recorded",
        "submissions/ledger.csv: 2 scored, 0 pending, 0 not among the latest Kaggle submissions of zoo-slug, "
        "1 skipped (scores out of range)"]
    assert ledger()[["public", "private"]].values.tolist() == [["0.81", ""], ["", "0.85"], ["", ""]]
    assert cli("lb").exit_code == 0


# --------------------------------------------------------------------------- the one typed loader (issue 30)

DAMAGED = {"sha256": "not-a-digest", "metric": "acuracy", "oof": "0.8.1", "oof_std": "-0.01", "public": "1.5",
           "private": "high"}


@pytest.mark.parametrize("column", COLUMNS)
def test_each_column_of_the_ledger_damaged_in_turn_is_one_line_and_nothing_is_written(
        work, cli, submit_error_line, write_run, write_csv, column):
    write_run("a")
    csv = write_csv()
    rows = [a_row(csv="submissions/zoo-1.csv", oof="0.8", public="0.79"), a_row(csv="submissions/zoo-2.csv")]
    path = work / "submissions" / "ledger.csv"
    damages = {"missing": ([c for c in COLUMNS if c != column], f"not a comp ledger: no column {column} "),
               "duplicated": (COLUMNS + [column], f"row 1: the column '{column}' appears twice")}
    for what, (header, fragment) in damages.items():
        write_rows(header, [[r[c] for c in header] for r in rows])
        before = path.read_bytes()
        submit_error_line(cli("lb"), f"submissions/ledger.csv: {fragment}")
        submit_error_line(cli("lb", "add", str(csv), "0.8"), f"submissions/ledger.csv: {fragment}")
        assert path.read_bytes() == before, what
    if column in DAMAGED:
        write_rows(COLUMNS, [[r[c] for c in COLUMNS] for r in rows[:1] + [rows[1] | {column: DAMAGED[column]}]])
        before = path.read_bytes()
        fragment = f"submissions/ledger.csv: row 3, column {column}: '{DAMAGED[column]}'" if column != "public" \
            else "submissions/ledger.csv: row 3, column public: 1.5 is out of range"
        submit_error_line(cli("lb"), fragment)
        submit_error_line(cli("lb", "add", str(csv), "0.8"), fragment)
        assert path.read_bytes() == before


@pytest.mark.parametrize("damage, fragment", [
    (lambda p: p.mkdir(), "submissions/ledger.csv: cannot read the ledger"),
    (lambda p: p.write_bytes(",".join(COLUMNS).encode() + b"\n\xff\xfe,zoo\n"), "submissions/ledger.csv: cannot read"),
    (lambda p: p.write_text(",".join(COLUMNS) + "\n" + ",zoo" * 11 + "\n"),
     "submissions/ledger.csv: row 2 has 12 values, the header 11 columns"),
    (lambda p: p.write_text(",".join(COLUMNS) + ",\n"), "submissions/ledger.csv: row 1: column 12 has no name"),
], ids=["a-folder", "not-utf-8", "too-many-values", "a-nameless-column"])
def test_an_unreadable_ledger_is_one_line_naming_the_file(work, cli, submit_error_line, damage, fragment):
    damage(work / "submissions" / "ledger.csv")
    submit_error_line(cli("lb"), fragment)


def test_comp_submit_checks_the_ledger_before_it_uploads(work, monkeypatch, cli, submit_error_line, write_run,
                                                         write_csv):
    write_run("a")
    write_csv()
    write_ledger([{"public": "86.46"}])
    calls = []
    monkeypatch.setattr(upload, "kaggle_api", lambda: calls.append("kaggle_api") or pytest.fail("uploaded"))
    submit_error_line(cli("submit", "submissions/zoo-a.csv"), "submissions/ledger.csv: row 2, column public: 86.46")
    submit_error_line(cli("submit", "submissions/zoo-a.csv", "--dry-run"), "submissions/ledger.csv: row 2")
    assert calls == []
