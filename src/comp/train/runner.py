"""Training a run, or N seeds of it: the one path of ``comp train``, ``comp compare`` and ``comp sweep``.

A recipe trained with ``--seeds N`` is N ordinary runs, one after another: ``train.seed`` = s,
s+1, ..., s+N-1 (s: the resolved recipe's ``train.seed``), all on the folds and ``--subset``
draw of seed s (the run's *split seed*). The first seed's run is the run made without
``--seeds``; the others add ``--set train.seed=<S>`` and record ``split_seed = s``. With
``--run R`` the runs are R, R-seed<S>, ...

Example::

    results = train_run(TrainRequest(competition, "fast", n_folds=5, seeds=3, say=print))
    [r.summary["oof_score"] for r in results]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from comp.config.recipe import Recipe, load_recipe
from comp.errors import CompError
from comp.files.paths import check_name
from comp.runs.run import Run
from comp.runs.seeds import spread_line
from comp.train.kfold import summarise_run, train_folds, training_run
from comp.train.request import TrainRequest
from comp.train.teacher import Teachers, open_teachers


@dataclass
class SeedPlan:
    seed: int  # the run's train.seed
    split_seed: int  # the seed of its folds and --subset draw: the first seed's
    overrides: list[str]  # what the seed adds to the --set overrides: [] for the first, then train.seed=<S>
    run_id: str | None  # --run R: R, then R-seed<S>; None: the default id, from the config


@dataclass
class SeedResult:
    plan: SeedPlan
    run: Run
    summary: dict | None  # the run's summary (metrics.json); None where no fold has finished


def plan_seeds(base_seed: int, n: int, run_id: str | None = None) -> list[SeedPlan]:
    """The N runs of ``--seeds N`` from ``base_seed``, their ids checked as ``--run`` is."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise CompError(f"--seeds must be 1 or more. Received: --seeds={n}")
    plans = []
    for seed in range(base_seed, base_seed + n):
        first = seed == base_seed
        rid = None if run_id is None else run_id if first else f"{run_id}-seed{seed}"
        if rid is not None:
            check_name(rid, "--run")
        plans.append(SeedPlan(seed, base_seed, [] if first else [f"train.seed={seed}"], rid))
    return plans


def check_request(request: TrainRequest) -> tuple[Recipe, list[SeedPlan], Teachers | None]:
    """Everything that can refuse the request before any data is read: its values, the recipe,
    a time budget's recipe, every seed's run id, then the teacher runs (opened here; a note where
    the rules forbid training on the test images)."""
    from comp.train.kfold import check_recipe
    from comp.train.time_budget import check_budget_recipe

    request.check()
    recipe = load_recipe(request.recipe_ref, request.overrides, request.competition)
    check_recipe(recipe)
    if request.time_budget_s:
        check_budget_recipe(recipe)
    plans = plan_seeds(recipe.train.seed, request.seeds, request.run_id)
    competition = request.competition
    kind = competition.target.kind
    if (request.distill or request.pseudo_label) and kind not in ("class", "class-probabilities"):
        raise CompError(f"--distill and --pseudo-label learn from a teacher's class probabilities, one class per "
                        f"image: {competition.name}'s target kind is {kind} (they work with the kinds class and "
                        f"class-probabilities)")
    teachers = open_teachers(competition.name, request.distill, request.pseudo_label)
    if teachers and teachers.test_data and not competition.rules.test_data_training:
        request.say(f"note: this run trains on test images, which {competition.name}'s rules forbid "
                    f"([rules] test_data_training = false): comp predict will refuse it (offline comparison only)")
    return recipe, plans, teachers


def train_run(request: TrainRequest) -> list[SeedResult]:
    """Train (or resume, or reuse) the request's run, or each of its seeds' runs in turn. With
    more than one seed, a table of the seeds and their spread follows."""
    recipe, plans, teachers = check_request(request)
    results = []
    for i, plan in enumerate(plans, start=1):
        if len(plans) > 1:
            request.tell(f"seed {i}/{len(plans)}: train.seed={plan.seed} (folds of seed {plan.split_seed})")
        seeded = load_recipe(request.recipe_ref, [*request.overrides, *plan.overrides], request.competition) \
            if plan.overrides else recipe
        results.append(_train_seed(request, seeded, plan, teachers))
        request.on_run(results[-1].run)
        if request.executor == "inline":
            from comp.tf_quiet import keras

            keras.backend.clear_session()  # the graphs of the last model are not needed again
    if len(plans) > 1:
        _say_seed_table(request, results)
    return results


def _train_seed(request: TrainRequest, recipe: Recipe, plan: SeedPlan, teachers: Teachers | None) -> SeedResult:
    overrides = [*request.overrides, *plan.overrides]
    with training_run(request, recipe, overrides, plan.run_id, plan.split_seed, teachers) as (run, dataset, images):
        request.tell(f"run {run.dir} | recipe {recipe.name} | model {recipe.model_name} | "
                     f"{len(dataset.train)} train / {len(dataset.test)} test images, "
                     f"{len(dataset.class_names)} classes")
        folds = range(request.n_folds) if request.folds is None else request.folds
        train_folds(run, folds, images, dataset, request.executor, request.gpus, request.verbose, request.tell)
        summary = summarise_run(run) if run.finished_folds() else None
    if summary is not None:
        _say_summary(request, run, summary)
    return SeedResult(plan, run, summary)


def _say_summary(request: TrainRequest, run: Run, summary: dict) -> None:
    from comp.metrics import per_class_f1_text
    from comp.report.plots import fold_table

    request.say("\n" + fold_table(summary))
    if summary.get("per_class_f1"):
        request.say(per_class_f1_text(summary["per_class_f1"]))
    request.tell(f"out-of-fold {summary['metric']}: {summary['oof_score']:.4f} "
                 f"({summary['finished_folds']}/{summary['folds']} folds) | plots: {run.dir / 'plots'}")


# --------------------------------------------------------------------------- the seeds' table


def common_fold_scores(runs: list[Run]) -> tuple[list[int], list[float]]:
    """(the folds every run finished, each run's score on those folds' rows): seeds compare on
    the same rows, also where one run has more folds finished (an earlier full run and --fold)."""
    from comp.metrics import score

    done = [set(r.finished_folds()) for r in runs]
    folds = sorted(set.intersection(*done)) if done else []
    if not folds:
        return [], [float("nan")] * len(runs)
    scores = []
    for run in runs:
        rows, labels, probs = run.oof()
        mask = np.isin(run.fold_table()["fold"].to_numpy()[rows], folds)
        scores.append(float(score(run.competition.metric, labels[mask], probs[mask])))
    return folds, scores


def seed_table(results: list[dict]) -> str:
    """One line per seed: seed, run id, OOF score, minutes."""
    table = pd.DataFrame(results, columns=["seed", "run", "folds", "oof", "minutes"]).dropna(axis=1, how="all")
    return table.to_string(index=False, na_rep="-", formatters={"oof": "{:.4f}".format, "minutes": "{:.1f}".format})


def _say_seed_table(request: TrainRequest, results: list[SeedResult]) -> None:
    folds, scores = common_fold_scores([r.run for r in results])
    rows = [{"seed": r.plan.seed, "run": r.run.id, "folds": " ".join(map(str, folds)) or "-", "oof": s,
             "minutes": r.summary["seconds"] / 60 if r.summary else float("nan")} for r, s in zip(results, scores)]
    request.say("\n" + seed_table(rows))
    request.say(spread_line(scores))
