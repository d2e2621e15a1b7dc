"""The submission ledger, ``submissions/ledger.csv``: one row per submission, with its CV and
leaderboard scores, for ``comp submit``, ``comp lb add`` and ``comp lb fetch``.

Columns (:data:`COLUMNS`): ``time`` (UTC, ISO 8601), ``competition``, ``csv`` (its path, relative
to the working folder where it lies under it), ``sha256``, ``runs`` (run ids, space-separated),
``metric``, ``oof`` (the out-of-fold score where the manifest knows it), ``oof_std`` (the largest
seed spread of its runs' seed groups, :mod:`comp.runs.seeds`), ``public``, ``private`` (leaderboard
scores) and ``message``. Unknown values are blank. A column a person adds is kept, in its place.

:func:`read_ledger` is the one typed loader of the file: a missing or duplicated column, a row
with more values than columns, an unknown metric, a sha256 that is not one, a score that is not
a number or lies outside its metric's range (:data:`comp.metrics.RANGES`) is refused in one line
naming the file, the row and the column; nothing is skipped. Every change reads the ledger that
way, changes it, checks the result the same way and writes it whole
(:func:`comp.files.atomic.write_text`) under a lock, so two commands at once lose no row and no
command writes a ledger it would refuse.

A row belongs to a file, not a path: ``comp lb add`` finds it by the CSV's sha256 (its manifest's,
checked against the file), so a CSV replaced at the same path gets a row of its own.

Example::

    append_row(ledger_row(csv, manifest, "fast, 5 folds"))
    record_scores(Path("submissions/x.csv"), 0.8646, None)
"""

from __future__ import annotations

import csv as csvlib
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from comp.errors import CompError
from comp.files.atomic import write_text
from comp.files.locks import hold
from comp.metrics import METRICS, RANGES, range_problem
from comp.submit.manifest import SHA256, Manifest
from comp.submit.submission import SUBMISSIONS_DIR
from comp.submit.upload import check_unchanged, read_manifest

COLUMNS = ["time", "competition", "csv", "sha256", "runs", "metric", "oof", "oof_std", "public", "private",
           "message"]
NUMBERS = ["oof", "oof_std", "public", "private"]
TYPED = ["metric", "sha256", *NUMBERS]  # the columns whose values are checked; the others are text


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


# --------------------------------------------------------------------------- the checks of a value


def score_problem(value, metric: str) -> str | None:
    """Why ``value`` (a number, or the ledger's text) cannot be a score of ``metric``; None where it
    can. A metric the row does not name (blank: unknown) takes any finite number."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        return f"{value!r} is not a number (a score, or blank where unknown)"
    if metric in RANGES:
        return range_problem(metric, score)
    return None if math.isfinite(score) else f"{value!r} is not a finite number"


def value_problem(column: str, value: str, metric: str) -> str | None:
    """Why a ledger cell cannot be what its column holds; None where it can (blank: unknown)."""
    if not value:
        return None
    if column == "metric" and value not in METRICS:
        return f"{value!r} is not a metric ({', '.join(METRICS)})"
    if column == "sha256" and not SHA256.fullmatch(value):
        return f"{value!r} is not a sha256 (64 hexadecimal digits, lower case)"
    if column == "oof_std":
        spread = float(value) if score_problem(value, "") is None else -1.0
        return None if spread >= 0 else f"{value!r} is not a seed spread (a standard deviation: finite, 0 or more)"
    return score_problem(value, metric) if column in NUMBERS else None


def check_score(value: float, what: str, metric: str, csv: Path) -> float:
    """A leaderboard score given on the command line, in ``metric``'s range."""
    problem = score_problem(value, metric)
    if problem:
        raise CompError(f"{csv}: {what} score {problem}")
    return float(value)


# --------------------------------------------------------------------------- reading and writing


def check_header(header: list[str], path: Path) -> None:
    """Every column named, once; the ledger's own all there."""
    for k, name in enumerate(header):
        if not name.strip():
            raise CompError(f"{path}: row 1: column {k + 1} has no name (name it, or delete the column)")
        if name in header[:k]:
            raise CompError(f"{path}: row 1: the column '{name}' appears twice (columns "
                            f"{header.index(name) + 1} and {k + 1}); a ledger names each column once")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CompError(f"{path}: not a comp ledger: no column {', '.join(missing)} "
                        f"(a ledger has the columns {','.join(COLUMNS)})")


def check_rows(frame: pd.DataFrame, path: Path, numbers) -> None:
    """Every typed cell (:func:`value_problem`), against its row's metric; ``numbers``: the rows'
    numbers as a spreadsheet shows them (the header is row 1)."""
    for n, record in zip(numbers, frame[TYPED].to_dict("records")):
        metric = record["metric"] if record["metric"] in METRICS else ""
        for column in TYPED:
            problem = value_problem(column, record[column], metric)
            if problem:
                raise CompError(f"{path}: row {n}, column {column}: {problem}")


def _records(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's byte-order mark read as none
            return list(csvlib.reader(f))
    except (OSError, UnicodeDecodeError, csvlib.Error) as e:
        raise CompError(f"{path}: cannot read the ledger ({getattr(e, 'strerror', None) or e})") from None


def read_ledger(path: Path | None = None) -> pd.DataFrame:
    """The ledger, checked whole (:func:`check_header`, :func:`check_rows`): every value a string
    (blank: unknown), the columns in the file's order; an empty one where there is no file."""
    path = path or ledger_path()
    records = _records(path) if path.exists() else []
    if not records:
        return pd.DataFrame(columns=COLUMNS, dtype=str)
    header, rows, numbers = records[0], [], []
    check_header(header, path)
    for n, record in enumerate(records[1:], start=2):
        if not any(record):  # a blank line
            continue
        if len(record) > len(header):
            raise CompError(f"{path}: row {n} has {len(record)} values, the header {len(header)} columns "
                            f"(a value with a comma in it is quoted)")
        rows.append(record + [""] * (len(header) - len(record)))
        numbers.append(n)
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    check_rows(frame, path, numbers)
    return frame


def scores_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The ledger's own columns (not those a person added), its scores as floats (NaN: unknown), and
    ``n``, the row's number from 1."""
    out = frame[COLUMNS].copy()
    for column in NUMBERS:
        out[column] = pd.to_numeric(out[column].replace("", float("nan")), errors="coerce").astype(float)
    out.insert(0, "n", range(1, len(out) + 1))
    return out


def update_ledger(change) -> pd.DataFrame:
    """``change(frame) -> frame`` applied to the ledger under its lock; the new ledger, checked as
    :func:`read_ledger` checks it, then written atomically: nothing is written unless all is well."""
    path = ledger_path()
    with hold(path.parent / ".ledger.lock", "the ledger", "updated", wait=True):
        frame = change(read_ledger(path)).reset_index(drop=True)
        check_rows(frame, path, range(2, len(frame) + 2))
        write_text(path, frame.to_csv(index=False))
    return frame


def with_row(frame: pd.DataFrame, row: dict) -> pd.DataFrame:
    """The ledger and a new last row; blank in the columns a person added."""
    new = pd.DataFrame([[str(row.get(c, "")) for c in frame.columns]], columns=frame.columns, dtype=str)
    return new if frame.empty else pd.concat([frame, new], ignore_index=True)


def append_row(row: dict) -> pd.DataFrame:
    return update_ledger(lambda frame: with_row(frame, row))


# --------------------------------------------------------------------------- rows


def seed_spread(manifest: Manifest) -> float | None:
    """The largest seed spread (standard deviation) among the seed groups of the submission's runs."""
    from comp.runs.listing import list_runs
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
    """``comp lb add``: the leaderboard scores of the latest ledger row of the CSV's file, found by its
    sha256 (the manifest's, checked against the file), not its path; a row added from the manifest
    where the ledger has none (a CSV replaced at the same path gets a row of its own). Every check
    comes before the ledger is written. (the row, whether it was added)."""
    manifest = read_manifest(csv)
    check_unchanged(csv, manifest)
    scores = {"public": check_score(public, "public", manifest.metric, csv)}
    if private is not None:
        scores["private"] = check_score(private, "private", manifest.metric, csv)
    new_row, found = ledger_row(csv, manifest, message), {}

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        mine = (frame["sha256"] == manifest.sha256) & (frame["competition"] == manifest.competition)
        hits = list(frame.index[mine])
        if not hits:
            frame = with_row(frame, new_row)
            hits, found["added"] = [len(frame) - 1], True
        found["row"] = hits[-1]
        for column, value in scores.items():
            frame.loc[hits[-1], column] = number(value)
        return frame

    frame = update_ledger(change)
    return frame.loc[found["row"]].to_dict(), "added" in found
