"""The seed spread and the seed groups ``comp runs`` lists (``--seeds N`` trains them:
:mod:`comp.train.runner`).

A *seed group* is the runs whose configs differ only in the seed (``recipe.train.seed`` and
``run.seed``, and the keys a run id ignores) on the same folds. Its OOF scores' standard
deviation (ddof=1) is the seed spread: a difference between two recipes smaller than it
cannot be told from the seed.

Example::

    groups = seed_groups(list_runs("dacon-cifar10"))
    [group_line(g) for g in groups]  # seed group fast (runs a, b, c): oof 0.7512 ± 0.0043 (3 seeds)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd

from comp.runs.config import RunConfig
from comp.runs.identity import config_identity
from comp.runs.run import Run

# --------------------------------------------------------------------------- the spread


def spread(scores) -> tuple[float, float, int]:
    """(mean, standard deviation with ddof=1, count) of the scores that are numbers; the
    deviation is NaN below two scores."""
    values = pd.Series([s for s in scores if s is not None and not math.isnan(s)], dtype=float)
    return float(values.mean()), float(values.std(ddof=1)), int(len(values))


def spread_line(scores) -> str:
    mean, std, n = spread(scores)
    if n < 2:
        return f"seed spread: needs 2 seeds with an out-of-fold score, {n} has one"
    return f"seed spread: mean {mean:.4f}, std {std:.4f} over {n} seeds"


def within_spread(best: float, best_std: float, score: float, std: float) -> bool | None:
    """Whether ``score`` is closer to ``best`` than the larger of the two seed deviations;
    None where neither is known."""
    known = [s for s in (best_std, std) if s is not None and not math.isnan(s)]
    return abs(score - best) < max(known) if known else None


def flag_within_spread(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """A ``within_spread`` column for a table sorted best first by ``column``: ``best``, ``yes``
    (its difference to the best is smaller than the larger of the two rows' ``oof_std``), ``no``,
    or ``-`` where neither spread is known. The table as it is where no row's spread is known."""
    if "oof_std" not in table or table["oof_std"].isna().all():
        return table
    best = table.iloc[0]
    flags = ["best"]
    for _, row in table.iloc[1:].iterrows():
        near = within_spread(best[column], best["oof_std"], row[column], row["oof_std"])
        flags.append("-" if near is None else "yes" if near else "no")
    return table.assign(within_spread=flags)


def spread_note(table: pd.DataFrame) -> str:
    """The line after a flagged table: which rows cannot be told apart from the best; "" unflagged."""
    if "within_spread" not in table or len(table) < 2:
        return ""
    best = table["row"].iloc[0]
    close = table.loc[table["within_spread"] == "yes", "row"].tolist()
    if not close:
        return f"every other row differs from the best row '{best}' by more than the seed spread"
    return (f"cannot be told apart from the best row '{best}' (a difference smaller than the seed spread): "
            f"{', '.join(map(str, close))}")


# --------------------------------------------------------------------------- seed groups


@dataclass
class SeedGroup:
    competition: str
    name: str  # the recipe's name
    runs: list[str]  # the finished runs' ids, oldest first
    scores: list[float]  # their OOF scores
    folds: tuple[int, ...] = ()  # the folds the scores are on, where not every fold (--fold)
    seeds: list[int] = field(default_factory=list)  # each run's train.seed

    @property
    def seed_scores(self) -> list[float]:
        """One score per distinct seed, its oldest run's: a rerun of a seed is not a second seed."""
        first = {}
        for seed, score in zip(self.seeds, self.scores):
            first.setdefault(seed, score)
        return list(first.values())

    @property
    def repeats(self) -> list[str]:
        """The runs whose seed an older run of the group already has (not counted)."""
        seen, out = set(), []
        for run, seed in zip(self.runs, self.seeds):
            if seed in seen:
                out.append(run)
            seen.add(seed)
        return out

    @property
    def mean(self) -> float:
        return spread(self.seed_scores)[0]

    @property
    def std(self) -> float:
        return spread(self.seed_scores)[1]

    @property
    def n(self) -> int:
        return len(self.seed_scores)


def group_key(config: RunConfig) -> str:
    """What a run's seeds share: its identity without the seeds, with its split seed."""
    identity = config_identity(config)
    run_table = {k: v for k, v in identity["run"].items() if k not in ("seed", "split_seed")}
    run_table["split_seed"] = config.fold_seed
    train = {k: v for k, v in identity["recipe"].get("train", {}).items() if k != "seed"}
    keyed = {**identity, "run": run_table, "recipe": {**identity["recipe"], "train": train}}
    return json.dumps(keyed, sort_keys=True)


def _scored_folds(run: Run) -> tuple[tuple[int, ...], float] | None:
    """(the folds its OOF score is on, the score) of a run with a summary; None without one, or
    where the summary does not say which folds it has (a run's partial score is comparable only
    with a score on the same folds)."""
    m = run.metrics() or {}
    if "oof_score" not in m:
        return None
    if m.get("finished_folds") == m.get("folds"):
        return tuple(range(int(m["folds"]))), float(m["oof_score"])
    folds = tuple(sorted(int(f["fold"]) for f in m.get("per_fold", [])))
    return (folds, float(m["oof_score"])) if folds and len(folds) == m.get("finished_folds") else None


def seed_groups(runs: list[Run]) -> list[SeedGroup]:
    """The seed groups of ``runs`` with at least 2 seeds scored on the same folds (every fold, or
    the same ones with --fold), in the order of their first run. A rerun of a seed joins its
    group without counting as a seed (:attr:`SeedGroup.repeats`). A run on every fold also joins
    the group of ``--fold K`` runs of its config with its fold-K score (``--seeds N --fold K``
    reuses a finished run as its first seed)."""
    scored = [(run, group_key(run.config), *s) for run in runs if (s := _scored_folds(run)) is not None]
    one_fold = {(key, folds) for run, key, folds, _ in scored if len(folds) == 1 < run.n_folds}
    by_key: dict[tuple, SeedGroup] = {}
    for run, key, folds, score in scored:
        entries = [(folds, score)]
        if len(folds) == run.n_folds:
            entries += [((k,), s) for k, s in _fold_scores(run) if (key, (k,)) in one_fold]
        for folds, score in entries:
            group = by_key.setdefault((key, folds), SeedGroup(
                run.competition_name, run.recipe_name, [], [],
                folds if len(folds) < run.n_folds else ()))
            group.runs.append(run.id)
            group.scores.append(score)
            group.seeds.append(run.seed)
    return [g for g in by_key.values() if g.n >= 2]


def _fold_scores(run: Run) -> list[tuple[int, float]]:
    """(fold, score) of each fold in the run's summary (a --fold K run's OOF score is its fold's)."""
    return [(int(f["fold"]), float(f["score"])) for f in (run.metrics() or {}).get("per_fold", []) if "score" in f]


def group_of(groups: list[SeedGroup], competition: str, run_id: str) -> SeedGroup | None:
    """The group that holds the run, if any."""
    return next((g for g in groups if g.competition == competition and run_id in g.runs), None)


def group_line(group: SeedGroup) -> str:
    where = f" on fold{'s' if len(group.folds) > 1 else ''} {' '.join(map(str, group.folds))}" if group.folds else ""
    repeats = group.repeats
    again = "".join(f"; {run} repeats seed {seed}" for run, seed in zip(group.runs, group.seeds) if run in repeats)
    return (f"seed group {group.name} (runs {', '.join(group.runs)}): "
            f"oof {group.mean:.4f} ± {group.std:.4f}{where} ({group.n} seeds{again}{', not counted' if repeats else ''})")
