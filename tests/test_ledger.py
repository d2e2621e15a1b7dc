"""The submission ledger (comp.submit.ledger) and CV against the leaderboard (comp.submit.leaderboard):
comp lb, comp lb add, comp lb fetch (a fake Kaggle client)."""

from __future__ import annotations

import types
from datetime import datetime, timezone

import pandas as pd
import pytest

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


def test_lb_add_records_the_scores_of_a_ledger_row(work, cli):
    write_ledger([{"csv": "submissions/zoo-a.csv", "message": "first"}, {"csv": "submissions/zoo-b.csv"},
                  {"csv": "submissions/zoo-a.csv", "message": "again"}])
    res = cli("lb", "add", "submissions/zoo-a.csv", "0.8646", "--private", "0.861")
    assert res.exit_code == 0, res.output
    assert res.stderr == "updated submissions/zoo-a.csv in submissions/ledger.csv: public 0.8646, private 0.861\n"
    got = ledger()
    assert got[["public", "private"]].values.tolist() == [["", ""], ["", ""], ["0.8646", "0.861"]]  # the latest
    assert cli("lb", "add", "./submissions/zoo-b.csv", "0.85").exit_code == 0  # the same file, another spelling
    assert ledger()["public"].tolist() == ["", "0.85", "0.8646"]


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
    submit_error_line(cli("lb", "add", "submissions/x.csv", "nan"), "public must be a finite number")


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
