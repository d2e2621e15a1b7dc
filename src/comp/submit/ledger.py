"""The submission ledger, ``submissions/ledger.csv``: one row per submission, with its CV and
leaderboard scores, for ``comp submit``, ``comp lb add`` and ``comp lb fetch``.

Columns (:data:`COLUMNS`): ``time`` (UTC, ISO 8601), ``competition``, ``csv`` (its path, relative
to the working folder where it lies under it), ``sha256``, ``runs`` (run ids, space-separated),
``metric``, ``oof`` (the out-of-fold score where the manifest knows it), ``oof_std`` (the largest
seed spread of its runs' seed groups, :mod:`comp.runs.seeds`), ``public``, ``private`` (leaderboard
scores) and ``message``. Unknown values are blank.

Every change reads the ledger, changes it and writes it whole (:func:`comp.files.atomic.write_text`)
under a lock, so two commands at once lose no row.

Example::

    append_row(ledger_row(csv, manifest, "fast, 5 folds"))
    record_scores(Path("submissions/x.csv"), 0.8646, None)
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from comp.files.atomic import write_text
from comp.errors import CompError
from comp.files.locks import hold
from comp.submit.manifest import Manifest
from comp.submit.submission import SUBMISSIONS_DIR
from comp.submit.upload import check_unchanged, read_manifest

COLUMNS = ["time", "competition", "csv", "sha256", "runs", "metric", "oof", "oof_std", "public", "private",
           "message"]
NUMBERS = ["oof", "oof_std", "public", "private"]


def ledger_path() -> Path:
    return SUBMISSIONS_DIR / "ledger.csv"


def csv_key(csv: Path) -> str:
    """How the ledger names a CSV: relative to the working folder where it lies under it, else absolute."""
    absolute = Path(os.path.abspath(csv))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def number(value) -> str:
    """A score as the ledger writes it: blank for unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value))


def check_score(value: float, what: str) -> float:
    if value is None or not math.isfinite(value):
        raise CompError(f"{what} must be a finite number. Received: {what}={value!r}")
    return float(value)


# --------------------------------------------------------------------------- reading and writing


def read_ledger(path: Path | None = None) -> pd.DataFrame:
    """The ledger, every value a string (blank: unknown); an empty one where there is no file."""
    path = path or ledger_path()
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS, dtype=str)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=COLUMNS, dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise CompError(f"{path}: cannot read the ledger ({e})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise CompError(f"{path}: not a comp ledger: no column {', '.join(missing)} "
                        f"(a ledger has the columns {','.join(COLUMNS)})")
    for column in NUMBERS:
        for i, value in frame[column].items():
            try:
                float(value or "nan")
            except ValueError:
                raise CompError(f"{path}: row {i + 2}, column {column}: {value!r} is not a number "
                                f"(a score, or blank where unknown)") from None
    return frame[COLUMNS].reset_index(drop=True)


def scores_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The ledger with its score columns as floats (NaN: unknown) and ``n``, the row's number from 1."""
    out = frame.copy()
    for column in NUMBERS:
        out[column] = pd.to_numeric(out[column].replace("", float("nan")), errors="coerce").astype(float)
    out.insert(0, "n", range(1, len(out) + 1))
    return out


def update_ledger(change) -> pd.DataFrame:
    """``change(frame) -> frame`` applied to the ledger under its lock; the new ledger, written atomically."""
    path = ledger_path()
    with hold(path.parent / ".ledger.lock", "the ledger", "updated", wait=True):
        frame = change(read_ledger(path))
        write_text(path, frame[COLUMNS].to_csv(index=False))
    return frame


def append_row(row: dict) -> pd.DataFrame:
    return update_ledger(lambda frame: pd.concat([frame, pd.DataFrame([row], columns=COLUMNS)], ignore_index=True))


# --------------------------------------------------------------------------- rows


def seed_spread(manifest: Manifest) -> float | None:
    """The largest seed spread (standard deviation) among the seed groups of the submission's runs."""
    from comp.runs.run import list_runs
    from comp.runs.seeds import group_of, seed_groups

    competition = manifest.competition
    groups = seed_groups(list_runs(competition))
    stds = [g.std for run_id in manifest.run_ids
            if (g := group_of(groups, competition, run_id)) is not None and not math.isnan(g.std)]
    return max(stds) if stds else None


def ledger_row(csv: Path, manifest: Manifest, message: str) -> dict:
    """A new row for a submission from its manifest; the leaderboard scores blank."""
    return {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "competition": manifest.competition, "csv": csv_key(csv), "sha256": manifest.sha256,
            "runs": " ".join(manifest.run_ids), "metric": manifest.metric, "oof": number(manifest.oof_score),
            "oof_std": number(seed_spread(manifest)), "public": "", "private": "", "message": message}


def record_scores(csv: Path, public: float, private: float | None, message: str = "") -> tuple[dict, bool]:
    """``comp lb add``: the leaderboard scores of a CSV's latest ledger row, that row added from the
    CSV's manifest if the ledger has none. (the row, whether it was added)."""
    public = check_score(public, "public")
    private = None if private is None else check_score(private, "--private")
    key, added = csv_key(csv), []

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        hits = frame.index[frame["csv"] == key]
        if not len(hits):
            manifest = read_manifest(csv)
            check_unchanged(csv, manifest)
            frame = pd.concat([frame, pd.DataFrame([ledger_row(csv, manifest, message)], columns=COLUMNS)],
                              ignore_index=True)
            added.append(True)
        i = frame.index[frame["csv"] == key][-1]
        frame.loc[i, "public"] = number(public)
        if private is not None:
            frame.loc[i, "private"] = number(private)
        return frame

    frame = update_ledger(change)
    return frame[frame["csv"] == key].iloc[-1].to_dict(), bool(added)


# --------------------------------------------------------------------------- comp lb fetch (Kaggle)


def _field(item, *names):
    """A submission's field: the kaggle package's objects (snake_case since 1.7, camelCase before) or dicts."""
    for name in names:
        value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
        if value not in (None, ""):
            return value
    return None


def _score(value) -> float | None:
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return score if math.isfinite(score) else None


def submission_records(submissions) -> list[dict]:
    """Kaggle's submission list as plain records: file, description, date (UTC), public, private."""
    out = []
    for item in submissions or []:
        date = pd.to_datetime(_field(item, "date"), utc=True, errors="coerce")
        out.append({"file": str(_field(item, "file_name", "fileName") or ""),
                    "description": str(_field(item, "description") or ""), "date": date,
                    "public": _score(_field(item, "public_score", "publicScore")),
                    "private": _score(_field(item, "private_score", "privateScore"))})
    return out


def match_submission(row: pd.Series, records: list[dict], used: set[int]) -> int | None:
    """The record of a ledger row: the same file name; of several, the same message, then the nearest date."""
    candidates = [k for k, r in enumerate(records) if k not in used and r["file"] == Path(row["csv"]).name]
    if len(candidates) > 1:
        candidates = [k for k in candidates if records[k]["description"] == row["message"]] or candidates
    if len(candidates) > 1:
        when = pd.to_datetime(row["time"], utc=True, errors="coerce")
        if not pd.isna(when):
            far = [abs((records[k]["date"] - when).total_seconds()) if not pd.isna(records[k]["date"])
                   else math.inf for k in candidates]
            candidates = [candidates[far.index(min(far))]]
    return candidates[0] if candidates else None


def fill_scores(frame: pd.DataFrame, competition: str, records: list[dict]) -> tuple[pd.DataFrame, dict]:
    """The competition's ledger rows with the scores of their Kaggle submissions; counts of what happened."""
    counts, used = {"scored": 0, "pending": 0, "not found": 0}, set()
    frame = frame.copy()
    for i, row in frame[frame["competition"] == competition].iterrows():
        k = match_submission(row, records, used)
        if k is None:
            counts["not found"] += 1
            continue
        used.add(k)
        if records[k]["public"] is None and records[k]["private"] is None:
            counts["pending"] += 1
            continue
        for column in ("public", "private"):
            if records[k][column] is not None:
                frame.loc[i, column] = number(records[k][column])
        counts["scored"] += 1
    return frame, counts


def fetch_scores(api, slug: str, competition: str) -> dict:
    """``comp lb fetch``: Kaggle's latest submissions (``api.competition_submissions``) into the ledger."""
    try:
        records = submission_records(api.competition_submissions(slug))
    except Exception as e:  # the network, the platform
        raise CompError(f"kaggle: cannot list the submissions of '{slug}' ({type(e).__name__}: {e})") from None
    counts: dict = {}

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        filled, found = fill_scores(frame, competition, records)
        counts.update(found)
        return filled

    update_ledger(change)
    return counts
