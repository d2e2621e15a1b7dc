"""comp submit --kernel (comp.submit.kernel_push): the checks of an export before any network call,
the dataset created or versioned, the kernel pushed, its run waited for and its output submitted, through a fake Kaggle
client at its boundary (comp.submit.upload.kaggle_api).

The export folder is written by hand (small JSON files, a dummy kernel.py and model file), its run
as comp submit's tests write runs (config.toml): nothing is trained and no network is reached."""

from __future__ import annotations

import enum
import json
import shutil
import types
from pathlib import Path

import pytest

from comp.errors import CompError
from comp.submit import kernel_push, upload

DATASET, KERNEL, SLUG = "owner/zoo-models", "owner/zoo-models-kernel", "zoo-slug"


class NotFound(Exception):
    """requests' HTTPError for a 404, as the client raises it from dataset_status."""

    response = types.SimpleNamespace(status_code=404)


class ApiException(Exception):
    """The older clients' error: a status and a multi-line text."""

    status = 403


class KernelWorkerStatus(enum.Enum):
    """kagglesdk's kernels_enums.KernelWorkerStatus: kernels_status's reply has it as ``status``."""

    QUEUED, RUNNING, COMPLETE, ERROR, CANCEL_REQUESTED, CANCEL_ACKNOWLEDGED, NEW_SCRIPT = range(7)


class FakeKaggle:
    """The Kaggle client, with the real one's signatures (kaggle 1.8). Each call is recorded;
    ``statuses`` are dataset_status's replies in turn (an exception is raised); ``runs`` are
    kernels_status's replies in turn (a KernelWorkerStatus name becomes kagglesdk's reply, an
    exception is raised, anything else is returned); ``fail`` maps a method to the exception it
    raises; ``replies`` replace a method's reply."""

    def __init__(self, statuses=(NotFound("404 Client Error: Not Found"), "ready"), fail=None, runs=("COMPLETE",),
                 **replies):
        self.calls, self.statuses, self.runs, self.fail = [], list(statuses), list(runs), fail or {}
        self.replies = {"dataset": types.SimpleNamespace(status="ok", error=None, url="https://kaggle/d"),
                        "kernel": types.SimpleNamespace(ref="/code/x", url="https://kaggle/k", version_number=3,
                                                        error="", invalid_dataset_sources=[]),
                        "submit": types.SimpleNamespace(message="Submission saved", ref=777), **replies}

    def _call(self, name, *args, **kwargs):
        self.calls.append((name, *args, *(f"{k}={v}" for k, v in kwargs.items())))
        if name in self.fail:
            raise self.fail[name]

    def dataset_status(self, dataset):
        self._call("dataset_status", dataset)
        status = self.statuses.pop(0)
        if isinstance(status, BaseException):
            raise status
        return status

    def dataset_create_new(self, folder, public=False, quiet=False, convert_to_csv=True, dir_mode="skip"):
        self._call("dataset_create_new", folder, public=public, convert_to_csv=convert_to_csv, dir_mode=dir_mode)
        return self.replies["dataset"]

    def dataset_create_version(self, folder, version_notes, quiet=False, convert_to_csv=True,
                               delete_old_versions=False, dir_mode="skip"):
        self._call("dataset_create_version", folder, version_notes, convert_to_csv=convert_to_csv, dir_mode=dir_mode)
        return self.replies["dataset"]

    def kernels_push(self, folder, timeout=None, acc=None):
        self._call("kernels_push", folder)
        return self.replies["kernel"]

    def kernels_status(self, kernel):
        self._call("kernels_status", kernel)
        run = self.runs.pop(0)
        if isinstance(run, BaseException):
            raise run
        if isinstance(run, str):
            return types.SimpleNamespace(status=KernelWorkerStatus[run], failure_message=None)
        return run

    def competition_submit_code(self, file_name, message, competition=None, kernel=None, kernel_version=None,
                                quiet=False):
        self._call("competition_submit_code", file_name, message, competition, kernel=kernel,
                   kernel_version=kernel_version)
        return self.replies["submit"]


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def edit(path: Path, **changes) -> None:
    """Rewrite a JSON file of the export with ``changes``."""
    write_json(path, {**json.loads(path.read_text()), **changes})


@pytest.fixture
def export(tmp_path, monkeypatch, write_spec, write_run) -> Path:
    """competition/zoo.toml ([platform] kaggle = "zoo-slug"), run 'a', and export/ as comp export writes it."""
    monkeypatch.chdir(tmp_path)
    write_spec()
    write_run("a")
    out = tmp_path / "export"
    write_json(out / "dataset" / "dataset-metadata.json",
               {"title": "zoo models (comp)", "id": DATASET, "licenses": [{"name": "CC0-1.0"}]})
    write_json(out / "dataset" / "export.json", {"format": 1, "competition": {"name": "zoo"}, "runs": [{"id": "a"}]})
    (out / "dataset" / "models" / "a").mkdir(parents=True)
    (out / "dataset" / "models" / "a" / "fold-0.keras").write_bytes(b"\0" * 100)
    write_json(out / "kernel" / "kernel-metadata.json",
               {"id": KERNEL, "title": "zoo-models kernel", "code_file": "kernel.py", "language": "python",
                "kernel_type": "script", "is_private": True, "enable_gpu": False, "enable_internet": False,
                "dataset_sources": [DATASET], "competition_sources": [SLUG], "kernel_sources": []})
    (out / "kernel" / "kernel.py").write_text("print('offline inference')\n")
    return out


@pytest.fixture
def client(monkeypatch):
    """``client(fake=None)``: the fake that comp's kaggle_api() returns from now on (a new one by default);
    its ``calls`` start with ("kaggle_api",) once comp asks for the client."""
    def install(fake: FakeKaggle | None = None) -> FakeKaggle:
        fake = fake or FakeKaggle()
        monkeypatch.setattr(upload, "kaggle_api", lambda: fake.calls.append(("kaggle_api",)) or fake)
        return fake

    return install


@pytest.fixture
def slept(monkeypatch) -> list:
    """The seconds push slept waiting for the dataset or the kernel's run (nothing is slept)."""
    seconds: list = []
    monkeypatch.setattr(kernel_push, "sleep", seconds.append)
    return seconds


def plan(export: Path):
    from comp.config.spec import load_competition

    return kernel_push.plan_push(export, load_competition("zoo"))


# --------------------------------------------------------------------------- the dry run


def test_a_dry_run_lists_what_would_be_sent_and_calls_nothing(export, client, cli):
    fake = client()
    res = cli("submit", "--kernel", "export", "-m", "first kernel", "--dry-run")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        f"dataset:     {DATASET} (zoo models (comp)), 3 files, {len((export / 'dataset' / 'export.json').read_bytes()) + len((export / 'dataset' / 'dataset-metadata.json').read_bytes()) + 100} bytes from export/dataset",
        f"kernel:      {KERNEL}, export/kernel/kernel.py, CPU, internet off",
        f"competition: {SLUG}", "runs:        a", "submission:  submission.csv of the kernel's new version, once it has run (waiting at most 9 h)",
        "message:     first kernel"]
    assert res.stderr == "dry run: nothing was sent\n"
    assert fake.calls == []


def test_the_default_message_names_the_runs(export, client, cli):
    client()
    assert "message:     comp: a" in cli("submit", "--kernel", "export", "--dry-run", "-c", "zoo").stdout.splitlines()


# --------------------------------------------------------------------------- refusals, before any network call


def _drop(export, part):
    (export / part).unlink()


REFUSALS = {
    "no dataset metadata": (lambda e: _drop(e, "dataset/dataset-metadata.json"),
                            ["export/dataset/dataset-metadata.json: no such file", "export folder written by comp export"]),
    "no export.json": (lambda e: _drop(e, "dataset/export.json"), ["export/dataset/export.json: no such file"]),
    "no kernel metadata": (lambda e: _drop(e, "kernel/kernel-metadata.json"),
                           ["export/kernel/kernel-metadata.json: no such file"]),
    "no code file": (lambda e: _drop(e, "kernel/kernel.py"),
                     ["kernel-metadata.json: code_file must be the name of the kernel's file in export/kernel",
                      "Received: code_file='kernel.py'"]),
    "no folder": (lambda e: shutil.rmtree(e), ["export/dataset/export.json: no such file"]),
    "not JSON": (lambda e: (e / "kernel" / "kernel-metadata.json").write_text("{oops"),
                 ["export/kernel/kernel-metadata.json: not valid JSON"]),
    "internet on": (lambda e: edit(e / "kernel" / "kernel-metadata.json", enable_internet=True),
                    ["enable_internet must be false: a code competition's kernel runs offline",
                     "Received: enable_internet=True"]),
    "dataset not attached": (lambda e: edit(e / "kernel" / "kernel-metadata.json", dataset_sources=["owner/other-data"]),
                             [f"dataset_sources must be a list naming '{DATASET}' (the export's dataset)",
                              "Received: dataset_sources=['owner/other-data']"]),
    "another competition": (lambda e: edit(e / "kernel" / "kernel-metadata.json", competition_sources=["titanic"]),
                            [f"competition_sources must be a list naming '{SLUG}' (the spec's [platform] kaggle)"]),
    "a bad kernel id": (lambda e: edit(e / "kernel" / "kernel-metadata.json", id="owner/My Kernel"),
                        ["kernel-metadata.json: id must be <owner>/<slug>", "Received: id='owner/My Kernel'"]),
    "a bad dataset id": (lambda e: edit(e / "dataset" / "dataset-metadata.json", id="zoo-models"),
                         ["dataset-metadata.json: id must be <owner>/<slug>", "Received: id='zoo-models'"]),
    "two licenses": (lambda e: edit(e / "dataset" / "dataset-metadata.json", licenses=[]),
                     ["licenses must be one license", "Received: licenses=[]"]),
    "no runs": (lambda e: edit(e / "dataset" / "export.json", runs=[]),
                ["export.json: runs must be a non-empty list of runs", "Received: runs=[]"]),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_export_is_one_line_and_no_client_call(export, client, cli, submit_error_line, case):
    fake = client()
    change, fragments = REFUSALS[case]
    change(export)
    submit_error_line(cli("submit", "--kernel", "export", "-m", "x"), *fragments)
    assert fake.calls == []


@pytest.mark.parametrize("flag, rule", [("pretrained", "pretrained_weights = false"),
                                        ("test_data", "test_data_training = false")])
def test_a_run_the_rules_forbid_now_is_refused_before_any_upload(export, client, cli, submit_error_line, write_run,
                                                                 flag, rule):
    fake = client()
    write_run("b", **{flag: True})
    edit(export / "dataset" / "export.json", runs=[{"id": "a"}, {"id": "b"}])
    submit_error_line(cli("submit", "--kernel", "export"), "run 'b'", "zoo's rules forbid", rule)
    assert fake.calls == []


def test_a_run_deleted_since_is_refused(export, client, cli, submit_error_line):
    fake = client()
    shutil.rmtree("runs/zoo/a")
    submit_error_line(cli("submit", "--kernel", "export"), "export/dataset/export.json",
                      "its rules cannot be checked again", "run 'a' not found in runs/zoo")
    assert fake.calls == []


@pytest.mark.parametrize("platform", ["", "[platform]\ndacon = 235838"])
def test_a_spec_without_a_kaggle_competition_is_refused(export, client, cli, submit_error_line, write_spec, platform):
    fake = client()
    write_spec(platform)
    submit_error_line(cli("submit", "--kernel", "export"), "competition 'zoo'", "needs a Kaggle competition",
                      '[platform] kaggle = "<competition slug>"')
    assert fake.calls == []


def test_an_export_of_another_competition_is_refused(export, client, cli, submit_error_line):
    fake = client()
    edit(export / "dataset" / "export.json", competition={"name": "other"})
    submit_error_line(cli("submit", "--kernel", "export", "-c", "zoo"),
                      "export/dataset/export.json: the export is of competition 'other', not 'zoo'")
    assert fake.calls == []


@pytest.mark.parametrize("args, fragment", [(["x.csv", "--kernel", "export"], "a CSV or --kernel EXPORT_DIR, not both"),
                                            ([], "needs a CSV (written by comp predict) or --kernel EXPORT_DIR")])
def test_a_csv_and_a_kernel_are_one_or_the_other(export, client, cli, submit_error_line, args, fragment):
    fake = client()
    submit_error_line(cli("submit", *args), fragment)
    assert fake.calls == []


# --------------------------------------------------------------------------- push


def test_a_new_dataset_is_created_then_the_kernel_pushed_and_submitted(export, slept):
    fake, said = FakeKaggle(), []
    record = kernel_push.push(plan(export), fake, said.append, True, "first")
    assert fake.calls == [
        ("dataset_status", DATASET),
        ("dataset_create_new", str(export / "dataset"), "public=False", "convert_to_csv=False", "dir_mode=zip"),
        ("dataset_status", DATASET),
        ("kernels_push", str(export / "kernel")),
        ("kernels_status", KERNEL),
        ("competition_submit_code", "submission.csv", "first", SLUG, f"kernel={KERNEL}", "kernel_version=3")]
    assert record == {"dataset": DATASET, "dataset_action": "created", "dataset_url": "https://kaggle/d",
                      "kernel": KERNEL, "kernel_version": 3, "kernel_url": "https://kaggle/k", "competition": SLUG,
                      "submitted": True, "kernel_seconds": 0, "submission": 777,
                      "submission_message": "Submission saved"}
    assert said == [f"kaggle: creating private dataset {DATASET} (3 files, {plan(export).size} bytes)",
                    f"kaggle: pushing kernel {KERNEL} (kernel.py)",
                    f"kaggle: waiting for kernel {KERNEL} version 3 to run on Kaggle before submitting its "
                    f"submission.csv (checking every 15 s, at most 9 h)",
                    f"kaggle: kernel {KERNEL} version 3 ran successfully in 0:00:00",
                    f"kaggle: submitting submission.csv of kernel {KERNEL} version 3 to {SLUG}"]
    assert slept == []


def test_an_existing_dataset_gets_a_new_version_with_the_message_as_notes(export, slept):
    fake = FakeKaggle(statuses=["ready", "ready"])
    record = kernel_push.push(plan(export), fake, lambda line: None, True, "second")
    assert [c[0] for c in fake.calls] == ["dataset_status", "dataset_create_version", "dataset_status",
                                          "kernels_push", "kernels_status", "competition_submit_code"]
    assert fake.calls[1] == ("dataset_create_version", str(export / "dataset"), "second", "convert_to_csv=False",
                             "dir_mode=zip")
    assert record["dataset_action"] == "new version"


def test_without_submit_the_kernel_is_pushed_and_its_run_not_waited_for(export, slept):
    fake = FakeKaggle(runs=["QUEUED"])
    record = kernel_push.push(plan(export), fake, lambda line: None, False, "")
    assert [c[0] for c in fake.calls][-1] == "kernels_push" and record["submitted"] is False
    assert "submission" not in record and "kernel_seconds" not in record and slept == []
    assert fake.calls[1][0] == "dataset_create_new"


def test_the_kernel_is_pushed_only_once_the_dataset_is_ready(export, slept):
    said: list = []
    fake = FakeKaggle(statuses=[NotFound("404"), NotFound("404"), "pending", "ready"])
    kernel_push.push(plan(export), fake, said.append, True, "m")
    assert [c[0] for c in fake.calls].count("dataset_status") == 4 and fake.calls[-3][0] == "kernels_push"
    assert slept == [kernel_push.POLL_SECONDS] * 2
    assert f"kaggle: waiting for dataset {DATASET} to be ready (None)" in said


@pytest.mark.parametrize("statuses, fragment", [
    (["ready", "failed"], "is failed after 0 s"), (["ready"] + ["pending"] * 400, "is pending after 3600 s")])
def test_a_dataset_that_does_not_become_ready_stops_before_the_kernel(export, slept, statuses, fragment):
    fake = FakeKaggle(statuses=statuses)
    with pytest.raises(CompError, match=f"dataset {DATASET} was uploaded but {fragment}; the kernel was not pushed"):
        kernel_push.push(plan(export), fake, lambda line: None, True, "m")
    assert "kernels_push" not in [c[0] for c in fake.calls]


@pytest.mark.parametrize("step, statuses, error", [
    ("dataset_status", [ApiException("(403)\nReason: Forbidden")], "ApiException: (403)"),
    ("dataset_create_new", None, "HTTPError: 500 Server Error"),
    ("dataset_create_version", ["ready"], "HTTPError: 500 Server Error"),
    ("kernels_push", None, "HTTPError: 500 Server Error"),
    ("kernels_status", None, "HTTPError: 500 Server Error"),
    ("competition_submit_code", None, "HTTPError: 500 Server Error"),
])
def test_a_failed_step_is_one_line_naming_it(export, client, cli, error_line, slept, step, statuses, error):
    HTTPError = type("HTTPError", (Exception,), {})
    fail = {} if step == "dataset_status" else {step: HTTPError("500 Server Error\nfor url: https://www.kaggle.com")}
    fake = client(FakeKaggle(statuses=statuses or [NotFound("404"), "ready"], fail=fail))
    line = error_line(cli("submit", "--kernel", "export"), f"error: kaggle: {step} ", f"failed ({error}",
                      only_line=False, check_tree=False)
    assert "for url" not in line
    assert fake.calls[-1][0] == step  # nothing after the failed step


def test_a_reply_with_an_error_is_one_line(export, slept):
    fake = FakeKaggle(dataset=types.SimpleNamespace(status="error", error="The requested title is already in use"))
    with pytest.raises(CompError, match=f"kaggle: dataset_create_new {DATASET} failed: The requested title is alre"):
        kernel_push.push(plan(export), fake, lambda line: None, True, "m")
    assert fake.calls[-1][0] == "dataset_create_new"


def test_a_kernel_without_its_dataset_attached_is_not_submitted(export, slept):
    reply = types.SimpleNamespace(version_number=4, error=None, invalid_dataset_sources=[DATASET])
    fake = FakeKaggle(kernel=reply)
    with pytest.raises(CompError, match=f"kernels_push {KERNEL}: Kaggle did not attach dataset source.s. {DATASET}"):
        kernel_push.push(plan(export), fake, lambda line: None, True, "m")
    assert "competition_submit_code" not in [c[0] for c in fake.calls]


def test_a_client_without_code_submissions_says_which_version_is_needed_before_any_upload(export):
    class Old(FakeKaggle):
        competition_submit_code = None

    fake = Old()
    with pytest.raises(CompError, match=r"cannot submit from a kernel: pip install 'kaggle>=1\.7\.4'"):
        kernel_push.push(plan(export), fake, lambda line: None, True, "m")
    assert fake.calls == []


def test_comp_submit_kernel_pushes_and_submits(export, client, cli, slept):
    fake = client()
    res = cli("submit", "--kernel", "export", "-m", "first")
    assert res.exit_code == 0, res.output
    assert [c[0] for c in fake.calls] == ["kaggle_api", "dataset_status", "dataset_create_new", "dataset_status",
                                          "kernels_push", "kernels_status", "competition_submit_code"]
    assert res.stdout == f"submitted kernel {KERNEL} version 3 (dataset {DATASET}, created) to kaggle {SLUG}\n"
    assert res.stderr.splitlines()[-1] == "kaggle: Submission saved"


# --------------------------------------------------------------------------- waiting for the kernel's run


def test_the_output_is_submitted_once_the_pushed_version_has_run(export, slept):
    said: list = []
    fake = FakeKaggle(runs=["QUEUED", "RUNNING", "COMPLETE"])
    record = kernel_push.push(plan(export), fake, said.append, True, "m")
    assert [c[0] for c in fake.calls][-5:] == ["kernels_push", "kernels_status", "kernels_status", "kernels_status",
                                               "competition_submit_code"]
    assert slept == [kernel_push.POLL_SECONDS] * 2 and record["kernel_seconds"] == 30
    assert said[-3:] == [f"kaggle: waiting for kernel {KERNEL} version 3 to run on Kaggle before submitting its "
                         f"submission.csv (checking every 15 s, at most 9 h)",
                         f"kaggle: kernel {KERNEL} version 3 ran successfully in 0:00:30",
                         f"kaggle: submitting submission.csv of kernel {KERNEL} version 3 to {SLUG}"]


@pytest.mark.parametrize("run, status", [
    (types.SimpleNamespace(status=KernelWorkerStatus.ERROR, failure_message="Your notebook tried to allocate more "
                                                                            "memory\nthan is available."),
     "error (Your notebook tried to allocate more memory)"),
    (types.SimpleNamespace(status=KernelWorkerStatus.CANCEL_ACKNOWLEDGED, failure_message=""), "cancel_acknowledged"),
    ({"status": "cancelAcknowledged", "failureMessage": None}, "cancel_acknowledged"),  # older clients: text
])
def test_a_failed_or_cancelled_run_is_one_line_and_nothing_is_submitted(export, client, cli, error_line, slept,
                                                                        run, status):
    fake = client(FakeKaggle(runs=["QUEUED", "RUNNING", run]))
    error_line(cli("submit", "--kernel", "export"),
               f"error: kaggle: kernel {KERNEL} version 3 ended with status {status} after 0:00:30, so nothing was "
               f"submitted; its log is at https://kaggle/k", only_line=False, check_tree=False)
    assert "competition_submit_code" not in [c[0] for c in fake.calls]


def test_a_run_past_the_time_limit_and_a_margin_is_one_line_and_nothing_is_submitted(export, client, cli,
                                                                                   error_line, write_spec, slept):
    write_spec('[platform]\nkaggle = "zoo-slug"\nkernel_time_limit = 0.5')
    fake = client(FakeKaggle(runs=["QUEUED"] + ["RUNNING"] * 400, kernel=types.SimpleNamespace(version_number=3)))
    error_line(cli("submit", "--kernel", "export"),
               f"error: kaggle: kernel {KERNEL} version 3 is still running after 1:30:00 (the limit), so nothing was "
               f"submitted; see https://www.kaggle.com/code/{KERNEL}, then kaggle.com/competitions/{SLUG}",
               only_line=False, check_tree=False)
    assert len(slept) == 1.5 * 3600 / kernel_push.POLL_SECONDS
    assert "competition_submit_code" not in [c[0] for c in fake.calls]


@pytest.mark.parametrize("platform, hours", [('[platform]\nkaggle = "zoo-slug"', 9.0),
                                             ('[platform]\nkaggle = "zoo-slug"\nkernel_time_limit = 2', 3.0)])
def test_the_wait_is_the_spec_time_limit_and_a_margin_or_nine_hours(export, write_spec, platform, hours):
    write_spec(platform)
    assert plan(export).run_hours == hours


def test_a_status_call_that_fails_once_is_tried_again(export, slept):
    HTTPError = type("HTTPError", (Exception,), {})
    fake = FakeKaggle(runs=["RUNNING", HTTPError("503 Service Unavailable"), "COMPLETE"])
    assert kernel_push.push(plan(export), fake, lambda line: None, True, "m")["submission"] == 777
    assert [c[0] for c in fake.calls].count("kernels_status") == 3 and slept == [kernel_push.POLL_SECONDS] * 2
