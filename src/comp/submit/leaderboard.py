"""Leaderboard scores: fetched from Kaggle into the ledger (:mod:`comp.submit.ledger`), ``comp lb
fetch``, and CV against them, ``comp lb``.

- :func:`fetch_scores`: Kaggle's latest submissions matched to ledger rows (:func:`match_submission`);
  a fetched score outside the row's metric's range is skipped with a warning, not recorded.
- :func:`lb_table`: one line per submission: its number, time, CSV, OOF score and seed spread,
  public and private scores, message.
- :func:`rank_correlation`: the Spearman rank correlation of OOF and public scores, over the
  submissions that have both (at least 3).
- :func:`lb_warnings`: successive scored submissions where a choice between them would be made
  on the public leaderboard: their OOF scores differ by less than the seed spread (where a seed
  spread is known), or the public score improved while the OOF score got worse.
- :func:`plot_lb`: OOF against public score, one labelled point per submission.

Example::

    frame = scores_frame(read_ledger())
    for line in lb_warnings(frame, "accuracy"):
        print("warning:", line)
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from comp.errors import CompError
from comp.files.atomic import atomic_path
from comp.metrics import METRICS, higher_is_better
from comp.submit.ledger import number, score_problem, update_ledger


def better_sign(metric: str) -> int:
    """+1 where a higher score is better (an unknown metric too), -1 where lower is (log_loss)."""
    return 1 if metric not in METRICS or higher_is_better(metric) else -1


def lb_table(frame: pd.DataFrame) -> str:
    """The ledger's rows (:func:`comp.submit.ledger.scores_frame`) as a text table; ``-`` for unknown."""
    def scores(column: str) -> list[str]:
        return ["-" if pd.isna(v) else f"{v:.4f}" for v in frame[column]]

    table = pd.DataFrame({
        "n": frame["n"], "time": frame["time"].str.slice(0, 16).str.replace("T", " "),
        "csv": [Path(c).name for c in frame["csv"]], "oof": scores("oof"), "oof_std": scores("oof_std"),
        "public": scores("public"), "private": scores("private"),
        "message": [m.replace("\n", " ")[:40] for m in frame["message"]],
    })
    return table.to_string(index=False)


def rank_correlation(frame: pd.DataFrame) -> tuple[float, int]:
    """(Spearman's rho of OOF and public scores, rows that have both); rho is NaN below 3 rows."""
    both = frame.dropna(subset=["oof", "public"])
    if len(both) < 3:
        return float("nan"), len(both)
    return float(both["oof"].corr(both["public"], method="spearman")), len(both)


def correlation_line(frame: pd.DataFrame) -> str:
    rho, n = rank_correlation(frame)
    if n < 3:
        return f"CV vs public LB: a rank correlation needs 3 submissions with both scores; {n} have both"
    if math.isnan(rho):
        return f"CV vs public LB: Spearman rank correlation undefined over {n} submissions (constant scores)"
    return f"CV vs public LB: Spearman rank correlation {rho:.2f} over {n} submissions"


def _name(row: pd.Series) -> str:
    return f"#{row['n']} ({Path(row['csv']).name})"


def pair_warning(a: pd.Series, b: pd.Series, sign: int) -> str | None:
    """The warning for two successive scored submissions, if a choice between them is made on the public LB."""
    d_cv, d_lb = b["oof"] - a["oof"], b["public"] - a["public"]
    known = [s for s in (a["oof_std"], b["oof_std"]) if not pd.isna(s)]
    spread = max(known) if known else None
    names = f"submissions {_name(a)} and {_name(b)}"
    if spread is not None and abs(d_cv) < spread and d_lb != 0:
        return (f"{names}: their OOF scores differ by {abs(d_cv):.4f}, less than the seed spread {spread:.4f}, "
                f"their public scores by {abs(d_lb):.4f}: choosing between them is choosing on the public "
                f"leaderboard")
    if sign * d_lb > 0 and sign * d_cv < 0:
        why = "" if spread is not None else " (no seed spread known: comp train --seeds N measures it)"
        return (f"{names}: the public score improved by {abs(d_lb):.4f} while the OOF score got worse by "
                f"{abs(d_cv):.4f}{why}: following the public leaderboard here goes against the CV")
    return None


def lb_warnings(frame: pd.DataFrame, metric: str) -> list[str]:
    """One line per pair of successive submissions (with OOF and public scores) that
    :func:`pair_warning` flags."""
    scored = frame.dropna(subset=["oof", "public"])
    sign = better_sign(metric)
    out = []
    for (_, a), (_, b) in zip(scored.iloc[:-1].iterrows(), scored.iloc[1:].iterrows()):
        line = pair_warning(a, b, sign)
        if line:
            out.append(line)
    return out


def plot_lb(frame: pd.DataFrame, metric: str, path: Path) -> bool:
    """OOF (x) against public score (y), one numbered point per submission, with the seed spread as
    horizontal error bars; False (no file) where no submission has both scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = frame.dropna(subset=["oof", "public"])
    if scored.empty:
        return False
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.errorbar(scored["oof"], scored["public"], xerr=scored["oof_std"].fillna(0), fmt="o", capsize=3)
    for _, row in scored.iterrows():
        ax.annotate(f"#{row['n']}", (row["oof"], row["public"]), textcoords="offset points", xytext=(4, 4))
    rho, n = rank_correlation(frame)
    ax.set_xlabel(f"OOF {metric}")
    ax.set_ylabel(f"public LB {metric}")
    ax.set_title(f"CV vs public LB (Spearman {rho:.2f}, {n} submissions)" if n >= 3 else "CV vs public LB")
    ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return True


# --------------------------------------------------------------------------- comp lb fetch (Kaggle)


def _field(item, *names):
    """A submission's field: the kaggle package's objects (snake_case since 1.7, camelCase before) or dicts."""
    for name in names:
        value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
        if value not in (None, ""):
            return value
    return None


def submission_records(submissions) -> list[dict]:
    """Kaggle's submission list as plain records: file, description, date (UTC), public, private
    (the scores as Kaggle gives them, None where there is none yet; checked by :func:`fill_scores`)."""
    out = []
    for item in submissions or []:
        date = pd.to_datetime(_field(item, "date"), utc=True, errors="coerce")
        out.append({"file": str(_field(item, "file_name", "fileName") or ""),
                    "description": str(_field(item, "description") or ""), "date": date,
                    "public": _field(item, "public_score", "publicScore"),
                    "private": _field(item, "private_score", "privateScore")})
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


def checked_scores(record: dict, metric: str, warnings: list[str]) -> dict:
    """The scores of a Kaggle submission that can be scores of ``metric``
    (:func:`comp.submit.ledger.score_problem`); a warning for each other, which is not recorded."""
    good = {}
    for column in ("public", "private"):
        value = record[column]
        problem = None if value is None else score_problem(value, metric)
        if problem:
            when = "" if pd.isna(record["date"]) else f" ({record['date']:%Y-%m-%d %H:%M})"
            warnings.append(f"kaggle: {record['file']}{when}: {column} score {problem}; not recorded")
        elif value is not None:
            good[column] = float(value)
    return good


def fill_scores(frame: pd.DataFrame, competition: str, records: list[dict],
                metric: str = "") -> tuple[pd.DataFrame, dict, list[str]]:
    """The competition's ledger rows with the scores of their Kaggle submissions, each checked against
    the row's metric (``metric`` where the row names none); counts of what happened, and warnings."""
    counts, used, warnings = {"scored": 0, "pending": 0, "not found": 0, "skipped": 0}, set(), []
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
        good = checked_scores(records[k], row["metric"] or metric, warnings)
        for column, value in good.items():
            frame.loc[i, column] = number(value)
        counts["scored" if good else "skipped"] += 1
    return frame, counts, warnings


def fetch_scores(api, slug: str, competition: str, metric: str = "") -> tuple[dict, list[str]]:
    """``comp lb fetch``: Kaggle's latest submissions (``api.competition_submissions``) into the ledger;
    (counts, warnings: the scores skipped)."""
    try:
        records = submission_records(api.competition_submissions(slug))
    except Exception as e:  # the network, the platform
        raise CompError(f"kaggle: cannot list the submissions of '{slug}' ({type(e).__name__}: {e})") from None
    counts: dict = {}
    warnings: list[str] = []

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        filled, found, said = fill_scores(frame, competition, records, metric)
        counts.update(found)
        warnings[:] = said
        return filled

    update_ledger(change)
    return counts, warnings
