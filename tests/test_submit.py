"""comp submit (comp.submit.upload): the checks before any upload, the dry run, the Kaggle and Dacon
clients at their boundary, and the ledger row a sent CSV gets; the spec's [platform] table.

Runs and manifests are written by hand (config.toml, metrics.json, a CSV through
write_submission): no model is trained, and no network is reached (the clients are fakes)."""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from comp.submit import upload
from comp.errors import CompError
from comp.submit.ledger import COLUMNS
from comp.runs.config import build_run_config
from comp.runs.identity import config_hash
from comp.config.spec import competition_from_dict


@pytest.fixture
def zoo(tmp_path, monkeypatch, write_spec, write_run, write_csv) -> Path:
    """A working folder with competition/zoo.toml ([platform] kaggle), run 'a' and submissions/zoo-a.csv."""
    monkeypatch.chdir(tmp_path)
    write_spec()
    write_run("a")
    write_csv()
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    """Any client call fails the test: for the refusals and the dry run."""
    def refuse():
        raise AssertionError("a client was reached")

    monkeypatch.setattr(upload, "kaggle_api", refuse)
    monkeypatch.setattr(upload, "dacon_client", refuse)


@pytest.fixture
def kaggle_site(tmp_path, monkeypatch):
    """``make(init, auth)``: a fake ``kaggle`` package on sys.path. ``init`` is its __init__.py (the
    real one authenticates on import); ``auth`` the body of KaggleApi.authenticate."""
    def forget():
        for name in [m for m in sys.modules if m == "kaggle" or m.startswith("kaggle.")]:
            del sys.modules[name]

    def make(init: str = "", auth: str = "pass") -> None:
        pkg = tmp_path / "fake-site" / "kaggle"
        (pkg / "api").mkdir(parents=True)
        (pkg / "__init__.py").write_text(init)
        (pkg / "api" / "__init__.py").write_text("")
        (pkg / "api" / "kaggle_api_extended.py").write_text(FAKE_KAGGLE.format(auth=auth))
        monkeypatch.syspath_prepend(str(tmp_path / "fake-site"))
        forget()

    yield make
    forget()


FAKE_KAGGLE = """\
import types

CALLS = []


class KaggleApi:
    def authenticate(self):
        CALLS.append(("authenticate",))
        {auth}

    def competition_submit(self, file_name, message, competition, quiet=False):
        print("uploading 100%")  # the real client prints progress on stdout
        CALLS.append(("competition_submit", file_name, message, competition))
        return types.SimpleNamespace(message="Successfully submitted to " + competition)
"""


# --------------------------------------------------------------------------- the dry run


def test_a_dry_run_prints_what_would_be_sent_and_sends_nothing(zoo, no_network, cli):
    csv = zoo / "submissions" / "zoo-a.csv"
    res = cli("submit", "submissions/zoo-a.csv", "-m", "fast, 2 folds", "--dry-run")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        "platform:    kaggle", "competition: zoo-slug", "file:        submissions/zoo-a.csv",
        f"size:        {csv.stat().st_size} bytes", "rows:        3",
        f"sha256:      {hashlib.sha256(csv.read_bytes()).hexdigest()}", "message:     fast, 2 folds"]
    assert res.stderr == "dry run: nothing was sent\n"
    assert not (zoo / "submissions" / "ledger.csv").exists()


def test_the_default_message_names_the_runs_and_the_oof_score(zoo, no_network, cli):
    res = cli("submit", "submissions/zoo-a.csv", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "message:     comp: a, OOF accuracy 0.8100" in res.stdout.splitlines()


def test_a_dacon_dry_run_names_the_competition_id(zoo, no_network, cli, write_spec, dacon_platform):
    write_spec(dacon_platform)
    res = cli("submit", "submissions/zoo-a.csv", "--dry-run")
    assert res.stdout.splitlines()[:2] == ["platform:    dacon", "competition: 235838"]


# --------------------------------------------------------------------------- refusals, before any network call


def test_a_csv_without_its_manifest_is_refused(zoo, no_network, cli, submit_error_line):
    (zoo / "submissions" / "zoo-a.json").unlink()
    submit_error_line(cli("submit", "submissions/zoo-a.csv"), "submissions/zoo-a.csv: no manifest",
                      "submissions/zoo-a.json", "only CSVs written by comp predict")


def test_an_unreadable_manifest_is_refused(zoo, no_network, cli, submit_error_line):
    (zoo / "submissions" / "zoo-a.json").write_text("{not json")
    submit_error_line(cli("submit", "submissions/zoo-a.csv"), "submissions/zoo-a.json: the manifest is not valid JSON")
    (zoo / "submissions" / "zoo-a.json").write_text('{"runs": []}')
    submit_error_line(cli("submit", "submissions/zoo-a.csv"), "not a comp predict manifest", "sha256")


def test_a_missing_csv_is_refused(zoo, no_network, cli, submit_error_line):
    submit_error_line(cli("submit", "submissions/nope.csv"), "submissions/nope.csv: no such file")


def test_a_csv_changed_since_its_manifest_is_refused(zoo, no_network, cli, submit_error_line):
    csv = zoo / "submissions" / "zoo-a.csv"
    csv.write_text(csv.read_text().replace("dog", "cat"))
    line = submit_error_line(cli("submit", "submissions/zoo-a.csv", "--dry-run"), "submissions/zoo-a.csv: its sha256",
                             "differs from its manifest's", "changed after comp predict wrote it")
    assert hashlib.sha256(csv.read_bytes()).hexdigest()[:12] in line


@pytest.mark.parametrize("flag, rule", [("pretrained", "pretrained_weights = false"),
                                        ("test_data", "test_data_training = false")])
def test_a_run_the_rules_forbid_now_is_refused(zoo, no_network, flag, rule, cli, submit_error_line, write_run,
                                               write_csv):
    write_run("b", **{flag: True})
    write_csv("zoo-b.csv", runs=("a", "b"))
    submit_error_line(cli("submit", "submissions/zoo-b.csv", "--dry-run"), f"run 'b'", "zoo's rules forbid", rule)


def test_the_rules_are_those_of_the_spec_now(zoo, no_network, cli, submit_error_line, write_spec, write_run, write_csv):
    write_run("b", pretrained=True)
    write_csv("zoo-b.csv", runs=("b",))
    write_spec(rules="pretrained_weights = true")
    assert cli("submit", "submissions/zoo-b.csv", "--dry-run").exit_code == 0
    write_spec(rules="pretrained_weights = false")  # the rules changed since comp predict
    submit_error_line(cli("submit", "submissions/zoo-b.csv", "--dry-run"), "run 'b' used pretrained weights")


def test_a_run_deleted_since_is_refused(zoo, no_network, cli, submit_error_line):
    import shutil

    shutil.rmtree(zoo / "runs" / "zoo" / "a")
    submit_error_line(cli("submit", "submissions/zoo-a.csv", "--dry-run"), "submissions/zoo-a.json",
                      "its rules cannot be checked again", "run 'a' not found in runs/zoo")


def test_a_spec_without_a_platform_is_refused(zoo, no_network, cli, submit_error_line, write_spec):
    write_spec(platform="")
    submit_error_line(cli("submit", "submissions/zoo-a.csv", "--dry-run"), "competition 'zoo'",
                      "no [platform] table", 'kaggle = "<competition slug>"', "dacon = <competition id>")


def test_a_manifest_of_another_competition_is_refused(zoo, no_network, cli, submit_error_line, write_csv):
    write_csv("other.csv", competition="other")
    submit_error_line(cli("submit", "submissions/other.csv", "-c", "zoo", "--dry-run"),
                      "submissions/other.json", "for competition 'other', not 'zoo'")


def test_a_manifest_naming_a_path_is_refused(zoo, no_network, cli, submit_error_line):
    manifest = zoo / "submissions" / "zoo-a.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "competition": "../competition/zoo"}))
    submit_error_line(cli("submit", "submissions/zoo-a.csv", "--dry-run"), "competition must be a plain name")
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "competition": "zoo", "runs": [{**data["runs"][0], "run": "../../etc"}]}))
    submit_error_line(cli("submit", "submissions/zoo-a.csv", "--dry-run"), "submissions/zoo-a.json",
                      "runs[0].run must be a plain name")


# --------------------------------------------------------------------------- Kaggle


def test_without_the_kaggle_package_one_line_says_pip_install_kaggle(zoo, monkeypatch, cli, submit_error_line):
    monkeypatch.setitem(sys.modules, "kaggle", None)  # not importable, whatever is installed
    submit_error_line(cli("submit", "submissions/zoo-a.csv"), "the kaggle package is not installed: pip install kaggle")
    assert not (zoo / "submissions" / "ledger.csv").exists()


@pytest.mark.parametrize("init, auth", [
    # kaggle >= 1.7: the package's __init__ authenticates, prints help and calls exit(1)
    ("print('You must authenticate before you can call the Kaggle API.')\nimport sys\nsys.exit(1)\n", "pass"),
    # kaggle 1.5/1.6: OSError from authenticate at import
    ("raise OSError('Could not find kaggle.json. Make sure it is located in /root/.kaggle.')\n", "pass"),
    # authenticate itself exits or finds half a configuration
    ("", "raise SystemExit(1)"),
    ("", "raise ValueError('Error: Missing username in configuration.')"),
])
def test_missing_kaggle_credentials_are_one_line_naming_where_they_are_looked_for(zoo, kaggle_site, init, auth, cli):
    kaggle_site(init, auth)
    res = cli("submit", "submissions/zoo-a.csv")
    assert res.exit_code == 2 and res.stdout == ""  # the package's help went to stderr, not stdout
    error = res.stderr.strip().splitlines()[-1]
    assert error == f"error: {upload.KAGGLE_CREDENTIALS}"
    for where in ("KAGGLE_API_TOKEN", "~/.kaggle/access_token", "KAGGLE_USERNAME", "KAGGLE_KEY",
                  "kaggle.json", "KAGGLE_CONFIG_DIR"):
        assert where in error
    assert not (zoo / "submissions" / "ledger.csv").exists()


def test_a_kaggle_upload_calls_competition_submit_and_appends_a_ledger_row(zoo, kaggle_site, cli):
    kaggle_site()
    before = datetime.now(timezone.utc).replace(microsecond=0)
    res = cli("submit", "submissions/zoo-a.csv", "-m", "fast, 2 folds")
    assert res.exit_code == 0, res.output
    calls = sys.modules["kaggle.api.kaggle_api_extended"].CALLS
    assert calls == [("authenticate",), ("competition_submit", "submissions/zoo-a.csv", "fast, 2 folds", "zoo-slug")]
    assert res.stdout == "submitted submissions/zoo-a.csv to kaggle zoo-slug\n"
    assert "uploading 100%" in res.stderr and "kaggle: Successfully submitted to zoo-slug" in res.stderr
    ledger = pd.read_csv(zoo / "submissions" / "ledger.csv", dtype=str, keep_default_na=False)
    assert list(ledger.columns) == COLUMNS and len(ledger) == 1
    row = ledger.iloc[0].to_dict()
    assert before <= datetime.fromisoformat(row.pop("time")) <= datetime.now(timezone.utc) + timedelta(seconds=1)
    sha = hashlib.sha256((zoo / "submissions" / "zoo-a.csv").read_bytes()).hexdigest()
    assert row == {"competition": "zoo", "csv": "submissions/zoo-a.csv", "sha256": sha, "runs": "a",
                   "metric": "accuracy", "oof": "0.81", "oof_std": "", "public": "", "private": "",
                   "message": "fast, 2 folds"}
    assert [p.name for p in (zoo / "submissions").iterdir() if p.name.startswith(".tmp-")] == []


def test_the_ledger_row_carries_the_seed_spread_of_the_runs_group(zoo, kaggle_site, cli, write_run, write_csv):
    kaggle_site()
    write_run("a-seed2", score=0.83, seed=2, split_seed=1)
    write_run("a-seed3", score=0.80, seed=3, split_seed=1)
    write_run("other", score=0.70, seed=5)  # alone in its group
    write_csv("zoo-o.csv", runs=("other",), oof=0.70)
    assert cli("submit", "submissions/zoo-a.csv").exit_code == 0
    assert cli("submit", "submissions/zoo-o.csv").exit_code == 0
    ledger = pd.read_csv(zoo / "submissions" / "ledger.csv", dtype=str, keep_default_na=False)
    assert float(ledger["oof_std"][0]) == pytest.approx(statistics.stdev([0.81, 0.83, 0.80]))
    assert ledger["oof_std"][1] == "" and ledger["message"][1] == "comp: other, OOF accuracy 0.7000"


def test_a_failed_upload_is_one_line_and_records_nothing(zoo, monkeypatch, cli, submit_error_line):
    class Broken:
        def competition_submit(self, file_name, message, competition):
            raise ConnectionError("Max retries exceeded with url: /api/v1/competitions\nmore detail")

    monkeypatch.setattr(upload, "kaggle_api", lambda: Broken())
    submit_error_line(cli("submit", "submissions/zoo-a.csv"),
                      "kaggle: the upload of submissions/zoo-a.csv failed (ConnectionError: Max retries exceeded")
    assert not (zoo / "submissions" / "ledger.csv").exists()


# --------------------------------------------------------------------------- Dacon


def fake_dacon(monkeypatch, calls: list) -> None:
    client = types.SimpleNamespace(post_submission_file=lambda *args: calls.append(args) or {"isSubmitted": True})
    monkeypatch.setitem(sys.modules, "dacon_submit_api", types.SimpleNamespace(dacon_submit_api=client))


def test_a_dacon_upload_passes_the_token_the_id_and_the_team(zoo, monkeypatch, cli, write_spec, dacon_platform):
    write_spec(dacon_platform)
    calls: list = []
    fake_dacon(monkeypatch, calls)
    monkeypatch.setenv("DACON_TOKEN", "secret-token")
    monkeypatch.setenv("DACON_TEAM", "team zoo")
    res = cli("submit", "submissions/zoo-a.csv", "-m", "first")
    assert res.exit_code == 0, res.output
    assert calls == [("submissions/zoo-a.csv", "secret-token", "235838", "team zoo", "first")]
    assert "secret-token" not in res.output
    assert pd.read_csv(zoo / "submissions" / "ledger.csv", dtype=str)["message"].tolist() == ["first"]


def test_dacon_without_its_token_is_one_line_naming_the_variables(zoo, monkeypatch, cli, submit_error_line,
                                                                  write_spec, dacon_platform):
    write_spec(dacon_platform)
    calls: list = []
    fake_dacon(monkeypatch, calls)
    monkeypatch.delenv("DACON_TOKEN", raising=False)
    monkeypatch.setenv("DACON_TEAM", "team zoo")
    submit_error_line(cli("submit", "submissions/zoo-a.csv"), "DACON_TOKEN and DACON_TEAM", "not set: DACON_TOKEN")
    assert calls == []


def test_dacon_without_its_client_is_one_line(zoo, monkeypatch, cli, submit_error_line, write_spec, dacon_platform):
    write_spec(dacon_platform)
    monkeypatch.setitem(sys.modules, "dacon_submit_api", None)
    submit_error_line(cli("submit", "submissions/zoo-a.csv"), "dacon_submit_api) is not installed")


# --------------------------------------------------------------------------- the [platform] table


def spec_with(platform: dict):
    return competition_from_dict({"name": "zoo", "data": {"root": "d"}, "platform": platform}, "zoo.toml")


def test_the_platform_table_names_kaggle_or_dacon():
    assert (spec_with({"kaggle": "digit-recognizer"}).platform.name, spec_with({}).platform.name) == ("kaggle", None)
    dacon = spec_with({"dacon": 235838}).platform
    assert (dacon.name, dacon.competition) == ("dacon", "235838")


@pytest.mark.parametrize("platform, fragments", [
    ({"kaggle": "a", "dacon": 1}, ["zoo.toml: [platform] names one platform", "platform.kaggle='a'", "platform.dacon=1"]),
    ({"kaggle": "../x"}, ["platform.kaggle must be the competition's slug", "Received: platform.kaggle='../x'"]),
    ({"dacon": -3}, ["platform.dacon must be the competition's id, a positive integer", "platform.dacon=-3"]),
    ({"dacon": "235838"}, ["platform.dacon must be an integer or absent", "platform.dacon='235838'"]),
    ({"kagle": "x"}, ["unknown key 'platform.kagle'", "Did you mean 'platform.kaggle'?"]),
])
def test_a_bad_platform_table_is_an_error_naming_the_key(platform, fragments):
    with pytest.raises(CompError) as e:
        spec_with(platform)
    for fragment in fragments:
        assert fragment in str(e.value)


def test_the_platform_is_not_part_of_a_runs_identity():
    from comp.config.recipe import load_recipe

    def config(platform):
        return build_run_config(spec_with(platform), load_recipe("fast"), "fast", [], 2)

    assert config_hash(config({})) == config_hash(config({"kaggle": "zoo-slug"})) == config_hash(config({"dacon": 7}))
