"""Uploads: ``comp submit`` sends a submission CSV to the platform its competition's ``[platform]``
table names, Kaggle (the ``kaggle`` package) or Dacon (Dacon's ``dacon_submit_api`` client).

Everything is checked again before any network call (:func:`plan_upload`): the spec names a
platform; the CSV has its manifest (``<csv>.json``, written by ``comp predict``); the CSV's
sha256 is still the manifest's; and every run the manifest names still exists and passes
:func:`comp.submit.submission.check_rules` against the spec as it is now. A run deleted since, or a
rule changed since, refuses the upload.

The clients are imported only in :func:`kaggle_api` and :func:`dacon_client`, the boundaries that
tests replace. Older ``kaggle`` releases authenticate when imported and exit (or raise OSError)
without credentials: either becomes one line saying where credentials are looked for.

Example::

    upload = plan_upload(Path("submissions/x.csv"), competition, "fast, 5 folds")
    reply = send(upload)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from comp.errors import CompError
from comp.config.spec import Competition
from comp.submit.manifest import Manifest, check_csv_suffix, manifest_path
from comp.submit.submission import check_rules

KAGGLE_CREDENTIALS = (
    "Kaggle credentials not found: comp submit looks for an API token in KAGGLE_API_TOKEN or "
    "~/.kaggle/access_token, or for KAGGLE_USERNAME and KAGGLE_KEY, or for kaggle.json in ~/.kaggle/ "
    "(or $KAGGLE_CONFIG_DIR); create a token at kaggle.com/settings/api")
KAGGLE_MISSING = "the kaggle package is not installed: pip install kaggle (or pip install -e '.[kaggle]')"
DACON_MISSING = ("Dacon's submission client (dacon_submit_api) is not installed: pip install the "
                 "dacon_submit_api wheel that Dacon provides")
DACON_ENV = {"DACON_TOKEN": "your Dacon API token", "DACON_TEAM": "your team name on the competition"}


@dataclass
class Upload:
    """What ``comp submit`` sends, checked."""

    platform: str  # kaggle or dacon
    competition: str  # the competition's slug (Kaggle) or id (Dacon) on the platform
    csv: Path
    size: int  # bytes
    rows: int
    sha256: str
    message: str
    manifest: Manifest

    def lines(self) -> list[str]:
        """The dry run's lines: everything that would be sent."""
        return [f"platform:    {self.platform}", f"competition: {self.competition}", f"file:        {self.csv}",
                f"size:        {self.size} bytes", f"rows:        {self.rows}", f"sha256:      {self.sha256}",
                f"message:     {self.message}"]


# --------------------------------------------------------------------------- checks


def read_manifest(csv: Path) -> Manifest:
    """The manifest ``comp predict`` wrote beside the CSV, checked (:meth:`Manifest.read`); CompError
    if the CSV or its manifest is missing, or the manifest is not one."""
    csv = check_csv_suffix(csv)
    if not csv.is_file():
        raise CompError(f"{csv}: no such file")
    path = manifest_path(csv)
    if not path.is_file():
        raise CompError(f"{csv}: no manifest {path} beside it; only CSVs written by comp predict, which "
                        f"writes one, can be submitted")
    return Manifest.read(csv)


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise CompError(f"{path}: cannot read ({e.strerror or e})") from None


def check_unchanged(csv: Path, manifest: Manifest) -> None:
    """The CSV is still the file its manifest describes."""
    digest = file_sha256(csv)
    if digest != manifest.sha256:
        raise CompError(f"{csv}: its sha256 {digest[:12]}... differs from its manifest's "
                        f"{manifest.sha256[:12]}...: the file changed after comp predict wrote it; "
                        f"write it again with comp predict")


def manifest_runs(manifest: Manifest, competition: Competition, where: str) -> list:
    """The runs the manifest names (plain names, :meth:`Manifest.read` checked), opened now."""
    from comp.runs.run import open_run

    if manifest.competition != competition.name:
        raise CompError(f"{where}: the submission is for competition '{manifest.competition}', "
                        f"not '{competition.name}'")
    runs = []
    for run_id in manifest.run_ids:
        try:
            run = open_run(competition.name, run_id)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise CompError(f"{where}: run '{run_id}' cannot be read now ({e}), so its rules cannot be "
                            f"checked again") from None
        except CompError as e:
            raise CompError(f"{where}: its rules cannot be checked again: {e}") from None
        runs.append(run)
    return runs


def check_submission(csv: Path, competition: Competition) -> Manifest:
    """The manifest of a CSV that may be submitted now: it exists, the CSV is unchanged, and its
    runs exist and pass the competition's current rules."""
    manifest = read_manifest(csv)
    check_unchanged(csv, manifest)
    check_rules(competition, manifest_runs(manifest, competition, str(manifest_path(csv))))
    return manifest


def platform_of(competition: Competition) -> tuple[str, str]:
    """(platform, the competition's slug or id there); CompError without a [platform] table."""
    platform = competition.platform
    if platform.name is None:
        raise CompError(f"competition '{competition.name}': its spec has no [platform] table, so comp submit "
                        f"does not know where to upload; add [platform] with kaggle = \"<competition slug>\" "
                        f"or dacon = <competition id>")
    return platform.name, platform.competition


def default_message(manifest: Manifest) -> str:
    oof = manifest.oof_score
    return f"comp: {' + '.join(manifest.run_ids)}" + (f", OOF {manifest.metric} {oof:.4f}" if oof is not None else "")


def plan_upload(csv: Path, competition: Competition, message: str | None = None) -> Upload:
    """Every check, then what would be sent; no network call."""
    platform, target = platform_of(competition)
    manifest = check_submission(csv, competition)
    csv = Path(csv)
    return Upload(platform, target, csv, csv.stat().st_size, manifest.rows, manifest.sha256,
                  message if message else default_message(manifest), manifest)


# --------------------------------------------------------------------------- the clients (the boundaries)


def kaggle_api():
    """The Kaggle client, authenticated; what it prints goes to stderr."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            from kaggle.api.kaggle_api_extended import KaggleApi  # older releases authenticate here

            api = KaggleApi()
            api.authenticate()
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "kaggle":
            raise CompError(KAGGLE_MISSING) from None
        raise CompError(f"the kaggle package cannot be imported ({e}): pip install --upgrade kaggle") from None
    except (OSError, ValueError, SystemExit):  # no credentials: exit(1), OSError or "Missing username"
        raise CompError(KAGGLE_CREDENTIALS) from None
    return api


def dacon_client():
    """Dacon's ``dacon_submit_api`` module."""
    try:
        from dacon_submit_api import dacon_submit_api
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "dacon_submit_api":
            raise CompError(DACON_MISSING) from None
        raise CompError(f"dacon_submit_api cannot be imported ({e})") from None
    return dacon_submit_api


def dacon_credentials() -> tuple[str, str]:
    missing = [f"{key} ({what})" for key, what in DACON_ENV.items() if not os.environ.get(key)]
    if missing:
        raise CompError(f"Dacon submissions need DACON_TOKEN and DACON_TEAM in the environment; "
                        f"not set: {', '.join(missing)}")
    return os.environ["DACON_TOKEN"], os.environ["DACON_TEAM"]


def _reply(result) -> str:
    text = getattr(result, "message", result)
    return "" if text is None else str(text)


def send(upload: Upload) -> str:
    """Upload the checked CSV; the platform's reply. A failed upload is a CompError (nothing is recorded)."""
    if upload.platform == "kaggle":
        api = kaggle_api()
        call = lambda: api.competition_submit(str(upload.csv), upload.message, upload.competition)  # noqa: E731
    else:
        client = dacon_client()
        token, team = dacon_credentials()
        call = lambda: client.post_submission_file(str(upload.csv), token, upload.competition, team,  # noqa: E731
                                                   upload.message)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            reply = _reply(call())
    except (Exception, SystemExit) as e:  # the network, the platform: not a bug of comp's
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CompError(f"{upload.platform}: the upload of {upload.csv} failed ({type(e).__name__}: {first})") from None
    if reply.lower().startswith("could not submit"):
        raise CompError(f"{upload.platform}: the upload of {upload.csv} failed: {reply}")
    return reply
