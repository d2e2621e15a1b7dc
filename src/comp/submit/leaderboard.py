"""CV against the leaderboard, from the ledger (:mod:`comp.submit.ledger`): ``comp lb``.

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

from comp.files.atomic import atomic_path
from comp.metrics import METRICS, higher_is_better


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
