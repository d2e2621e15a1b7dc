"""Pushing an export (``comp export``) to Kaggle: :func:`plan_push` checks it all before any network call;
:func:`push` uploads the dataset, pushes the kernel, waits until Kaggle has run that version and submits its output."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from comp.config.spec import Competition
from comp.errors import CompError
from comp.submit.submission import check_rules

DATASET_META, EXPORT_FILE, KERNEL_META = "dataset-metadata.json", "export.json", "kernel-metadata.json"
SUBMISSION_FILE = "submission.csv"  # what the exported kernel writes to /kaggle/working/
SUBMIT_NEEDS = "1.7.4"  # the first kaggle release with competition_submit_code
OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
ID_RULE = "<owner>/<slug> (owner: letters, digits, '_' or '-'; slug: a-z, 0-9 and single '-')"
LAYOUT = ("an export folder written by comp export holds dataset/dataset-metadata.json, dataset/export.json, "
          "kernel/kernel-metadata.json and the kernel's code_file")
POLL_SECONDS, READY_SECONDS = 15.0, 3600.0  # how often, and how long, push waits for the dataset
RUN_MARGIN_HOURS, RUN_HOURS = 1.0, 9.0  # waiting for the kernel's run: [platform] kernel_time_limit + margin, or 9 h
RUN_FAILED = ("error", "cancel_requested", "cancel_acknowledged")  # kagglesdk's KernelWorkerStatus, lowercase
sleep = time.sleep  # tests replace it


@dataclass
class Push:
    """An export checked for :func:`push`."""

    dataset_dir: Path  # <export>/dataset
    kernel_dir: Path  # <export>/kernel
    dataset_id: str
    dataset_title: str
    kernel_id: str
    code_file: str
    enable_gpu: bool
    competition: str  # the Kaggle competition's slug
    run_ids: list[str]
    files: int  # under dataset/
    size: int  # bytes
    run_hours: float = RUN_HOURS  # how long push waits for the pushed version to run (queue included)

    def default_message(self) -> str:
        return f"comp: {' + '.join(self.run_ids)}"

    def lines(self, message: str | None = None) -> list[str]:
        """The dry run's lines: everything that would be sent."""
        return [f"dataset:     {self.dataset_id} ({self.dataset_title}), {self.files} files, {self.size} bytes "
                f"from {self.dataset_dir}",
                f"kernel:      {self.kernel_id}, {self.kernel_dir / self.code_file}, "
                f"{'GPU' if self.enable_gpu else 'CPU'}, internet off",
                f"competition: {self.competition}", f"runs:        {', '.join(self.run_ids)}",
                f"submission:  {SUBMISSION_FILE} of the kernel's new version, once it has run "
                f"(waiting at most {self.run_hours:g} h)",
                f"message:     {message or self.default_message()}"]


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise CompError(f"{path}: no such file; {LAYOUT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CompError(f"{path}: not valid JSON ({e}); write the export again with comp export") from None
    if not isinstance(data, dict):
        raise CompError(f"{path}: must be a JSON object (a table of keys). Received: {type(data).__name__}")
    return data


def _value(meta: dict, key: str, ok, where: Path, what: str):
    """``meta[key]`` where ``ok(it)``; else one line naming the file, the key, what is accepted and the value."""
    if not ok(value := meta.get(key)):
        raise CompError(f"{where}: {key} must be {what}. Received: {key}={value!r}")
    return value


def _kaggle_id(meta: dict, key: str, where: Path, least: int, most: int = 50) -> str:
    def ok(value) -> bool:
        owner, _, slug = value.partition("/") if isinstance(value, str) else ("", "", "")
        return bool(OWNER.fullmatch(owner) and SLUG.fullmatch(slug) and least <= len(slug) <= most)

    return _value(meta, key, ok, where, f"{ID_RULE}, {least} to {most} characters")


def read_dataset(folder: Path) -> tuple[str, str]:
    """(id, title) of ``dataset-metadata.json``, as ``dataset_create_new`` accepts them."""
    path = folder / DATASET_META
    meta = read_json(path)
    title = _value(meta, "title", lambda v: isinstance(v, str) and 6 <= len(v) <= 50, path,
                   "a title of 6 to 50 characters (Kaggle's rule)")
    _value(meta, "licenses", lambda v: isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict)
           and isinstance(v[0].get("name"), str), path, 'one license, e.g. [{"name": "CC0-1.0"}]')
    return _kaggle_id(meta, "id", path, 6), title


def read_kernel(folder: Path, dataset_id: str, slug: str) -> dict:
    """``kernel-metadata.json``, checked: a Python kernel, offline, attaching the dataset and the competition."""
    path = folder / KERNEL_META
    meta = read_json(path)
    _kaggle_id(meta, "id", path, 5, 100)
    _value(meta, "title", lambda v: isinstance(v, str) and len(v) >= 5, path, "at least 5 characters (Kaggle's rule)")
    _value(meta, "code_file", lambda v: isinstance(v, str) and Path(v).name == v and (folder / v).is_file(), path,
           f"the name of the kernel's file in {folder}; {LAYOUT}")
    _value(meta, "language", lambda v: v == "python", path, "python")
    _value(meta, "kernel_type", lambda v: v in ("script", "notebook"), path, "script or notebook")
    for key in ("is_private", "enable_gpu"):
        _value(meta, key, lambda v: isinstance(v, bool), path, "true or false")
    _value(meta, "enable_internet", lambda v: v is False, path, "false: a code competition's kernel runs offline")
    for key, wanted, what in (("dataset_sources", dataset_id, "the export's dataset"),
                              ("competition_sources", slug, "the spec's [platform] kaggle")):
        _value(meta, key, lambda v, w=wanted: isinstance(v, list) and w in v and all(isinstance(x, str) for x in v),
               path, f"a list naming {wanted!r} ({what})")
    _value(meta, "kernel_sources", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), path,
           "a list of kernel ids")
    return meta


def export_runs(folder: Path, competition_name: str | None = None) -> tuple[str, list[str]]:
    """(competition name, run ids) of ``export.json``; with ``competition_name``, it must be that one."""
    path = folder / EXPORT_FILE
    export = read_json(path)
    table = export.get("competition")
    name = table.get("name") if isinstance(table, dict) else None
    if not isinstance(name, str) or not name:
        raise CompError(f"{path}: competition must be the spec's table, with its name. Received: competition={table!r}")
    if competition_name is not None and name != competition_name:
        raise CompError(f"{path}: the export is of competition '{name}', not '{competition_name}'")
    runs = export.get("runs")
    ids = [r.get("id") if isinstance(r, dict) else r for r in runs] if isinstance(runs, list) else []
    if not ids or not all(isinstance(i, str) for i in ids):
        raise CompError(f"{path}: runs must be a non-empty list of runs with ids. Received: runs={runs!r}")
    return name, ids


def check_runs(competition: Competition, run_ids: list[str], where: Path) -> None:
    """The runs exist now and pass the competition's rules as they are now."""
    from comp.files.paths import check_name
    from comp.runs.run import open_run

    runs = []
    for run_id in run_ids:
        try:
            runs.append(open_run(competition.name, check_name(run_id, "runs[].id", str(where))))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise CompError(f"{where}: run '{run_id}' cannot be read now ({e}), so its rules cannot be "
                            f"checked again") from None
        except CompError as e:
            raise CompError(f"{where}: its rules cannot be checked again: {e}") from None
    check_rules(competition, runs)


def plan_push(export_dir: Path, competition: Competition) -> Push:
    """Every check before any network call (one CompError each); what :func:`push` would send."""
    export_dir = Path(export_dir)
    for part in ("dataset/" + DATASET_META, "dataset/" + EXPORT_FILE, "kernel/" + KERNEL_META):
        if not (export_dir / part).is_file():
            raise CompError(f"{export_dir / part}: no such file; {LAYOUT}")
    slug = competition.platform.kaggle
    if slug is None:
        raise CompError(f"competition '{competition.name}': pushing a kernel needs a Kaggle competition; its spec "
                        f"has no [platform] kaggle = \"<competition slug>\"")
    dataset_id, title = read_dataset(export_dir / "dataset")
    kernel = read_kernel(export_dir / "kernel", dataset_id, slug)
    _, run_ids = export_runs(export_dir / "dataset", competition.name)
    check_runs(competition, run_ids, export_dir / "dataset" / EXPORT_FILE)
    files = [p for p in (export_dir / "dataset").rglob("*") if p.is_file()]
    return Push(export_dir / "dataset", export_dir / "kernel", dataset_id, title, kernel["id"], kernel["code_file"],
                kernel["enable_gpu"], slug, run_ids, len(files), sum(p.stat().st_size for p in files),
                RUN_HOURS if (hours := competition.platform.kernel_time_limit) is None else hours + RUN_MARGIN_HOURS)


def _field(reply, name: str, camel: str | None = None):
    for key in (name, camel or name):  # the client's objects (snake_case; older releases camelCase) or a dict
        if (value := reply.get(key) if isinstance(reply, dict) else getattr(reply, key, None)) is not None:
            return value
    return None


def _call(step: str, call, *args, missing: bool = False, **kwargs):
    """``call(...)`` (its prints on stderr); a failure is one line naming the step; with ``missing``, 404 is None."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return call(*args, **kwargs)
    except (Exception, SystemExit) as e:  # HTTPError, ApiException, ValueError...: the platform's, not comp's
        code = getattr(getattr(e, "response", None), "status_code", None) or getattr(e, "status", None)
        if missing and code == 404:
            return None
        detail = text.splitlines()[0] if (text := str(e).strip()) else "no detail"
        raise CompError(f"kaggle: {step} failed ({type(e).__name__}: {detail})") from None


def _dataset_status(api, dataset_id: str) -> str | None:  # lowercase (ready...), None where Kaggle has none
    status = _call(f"dataset_status {dataset_id}", api.dataset_status, dataset_id, missing=True)
    return None if status is None else str(status).lower()


def upload_dataset(plan: Push, api, say, message: str) -> dict:
    """Create the dataset (private, folders kept as zips), or add a version; wait until it is ready."""
    folder, exists = str(plan.dataset_dir), _dataset_status(api, plan.dataset_id) is not None
    say(f"kaggle: {'uploading a new version of' if exists else 'creating private'} dataset {plan.dataset_id} "
        f"({plan.files} files, {plan.size} bytes)")
    step = f"dataset_create_{'version' if exists else 'new'} {plan.dataset_id}"
    reply = (_call(step, api.dataset_create_version, folder, message, convert_to_csv=False, dir_mode="zip") if exists
             else _call(step, api.dataset_create_new, folder, public=False, convert_to_csv=False, dir_mode="zip"))
    error, status = _field(reply, "error"), _field(reply, "status")
    if error or (status is not None and str(status).lower() != "ok"):
        raise CompError(f"kaggle: {step} failed: {error or f'status {status}'}")
    waited = 0.0
    while (status := _dataset_status(api, plan.dataset_id)) != "ready":
        if status in ("failed", "error", "deleted") or waited >= READY_SECONDS:
            raise CompError(f"kaggle: dataset {plan.dataset_id} was uploaded but is {status or 'not found'} after "
                            f"{waited:.0f} s; the kernel was not pushed: see kaggle.com/datasets/{plan.dataset_id}")
        if waited == 0:
            say(f"kaggle: waiting for dataset {plan.dataset_id} to be ready ({status})")
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS
    return {"dataset": plan.dataset_id, "dataset_action": "new version" if exists else "created",
            "dataset_url": _field(reply, "url")}


def push_kernel(plan: Push, api, say) -> dict:
    """Push the kernel (a new version, which Kaggle runs); its ref, version number and URL."""
    say(f"kaggle: pushing kernel {plan.kernel_id} ({plan.code_file})")
    step = f"kernels_push {plan.kernel_id}"
    reply = _call(step, api.kernels_push, str(plan.kernel_dir))
    if reply is None or _field(reply, "error"):
        raise CompError(f"kaggle: {step} failed: {'no reply' if reply is None else _field(reply, 'error')}")
    for kind in ("dataset", "competition", "kernel"):
        invalid = _field(reply, f"invalid_{kind}_sources", f"invalid{kind.title()}Sources")
        if invalid:
            raise CompError(f"kaggle: {step}: Kaggle did not attach {kind} source(s) {', '.join(map(str, invalid))} "
                            f"(not found, or not yours); the kernel would run without them")
    version = _field(reply, "version_number", "versionNumber")
    return {"kernel": plan.kernel_id, "kernel_version": version, "kernel_url": _field(reply, "url")}


def _kernel_status(api, kernel_id: str, tries: int = 3) -> tuple[str, str]:
    """(status, failure): queued, running, complete, error, cancel_acknowledged... (KernelWorkerStatus, old text)."""
    for attempt in range(tries):  # a failed call is tried again after a poll; the last failure stands
        with contextlib.suppress(CompError) if attempt < tries - 1 else contextlib.nullcontext():
            reply = _call(f"kernels_status {kernel_id}", api.kernels_status, kernel_id)
            break
        sleep(POLL_SECONDS)
    status, failure = _field(reply, "status"), str(_field(reply, "failure_message", "failureMessage") or "").strip()
    name = getattr(status, "name", None) or str(status).rpartition(".")[2]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower(), failure.splitlines()[0] if failure else ""


def wait_for_kernel(plan: Push, api, say, version, url: str | None) -> int:
    """Poll until the pushed version has run (Kaggle submits only a version that completed); the seconds waited."""
    if version is None:
        raise CompError(f"kaggle: kernels_push {plan.kernel_id} returned no version number, so nothing was "
                        f"submitted; submit the kernel's version from kaggle.com/competitions/{plan.competition}")
    kernel, url = f"kernel {plan.kernel_id} version {version}", url or f"https://www.kaggle.com/code/{plan.kernel_id}"
    say(f"kaggle: waiting for {kernel} to run on Kaggle before submitting its {SUBMISSION_FILE} "
        f"(checking every {POLL_SECONDS:g} s, at most {plan.run_hours:g} h)")
    waited = 0
    while (status := _kernel_status(api, plan.kernel_id))[0] != "complete":
        if status[0] in RUN_FAILED:
            raise CompError(f"kaggle: {kernel} ended with status {status[0]}{f' ({status[1]})' if status[1] else ''} "
                            f"after {timedelta(seconds=waited)}, so nothing was submitted; its log is at {url}")
        if waited >= plan.run_hours * 3600:
            raise CompError(f"kaggle: {kernel} is still {status[0]} after {timedelta(seconds=waited)} (the limit), so "
                            f"nothing was submitted; see {url}, then kaggle.com/competitions/{plan.competition}")
        sleep(POLL_SECONDS)
        waited += round(POLL_SECONDS)
    say(f"kaggle: {kernel} ran successfully in {timedelta(seconds=waited)}")
    return waited


def submit_kernel(plan: Push, api, say, version, message: str) -> dict:
    """Submit the competition from the kernel's version (its ``submission.csv``)."""
    say(f"kaggle: submitting {SUBMISSION_FILE} of kernel {plan.kernel_id} version {version} to {plan.competition}")
    reply = _call(f"competition_submit_code {plan.competition}", api.competition_submit_code, SUBMISSION_FILE,
                  message, plan.competition, kernel=plan.kernel_id, kernel_version=int(version))
    return {"submission": _field(reply, "ref"), "submission_message": _field(reply, "message")}


def push(plan: Push, api, say, submit: bool, message: str | None) -> dict:
    """Upload the dataset, push the kernel and, with ``submit``, wait for its run and submit its output; a failed step
    is a CompError (the steps before it stay done). Returns the record: dataset..., kernel..., submission..."""
    message = message or plan.default_message()
    if submit and not callable(getattr(api, "competition_submit_code", None)):  # checked before any upload
        installed = getattr(sys.modules.get("kaggle"), "__version__", "an older release")
        raise CompError(f"the installed kaggle package ({installed}) cannot submit from a kernel: "
                        f"pip install 'kaggle>={SUBMIT_NEEDS}'")
    record = {**upload_dataset(plan, api, say, message), **push_kernel(plan, api, say),
              "competition": plan.competition, "submitted": submit}
    if submit:
        record["kernel_seconds"] = wait_for_kernel(plan, api, say, record["kernel_version"], record["kernel_url"])
        record.update(submit_kernel(plan, api, say, record["kernel_version"], message))
    return record
