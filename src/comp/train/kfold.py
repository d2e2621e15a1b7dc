"""The k-fold driver: prepare (or reopen) a run, train its folds, summarise it.

:func:`comp.train.runner.train_run` (``comp train`` and every row of ``comp compare`` /
``comp sweep``) makes the same three calls for each seed::

    with training_run(request, recipe, overrides, run_id=None) as (run, dataset, images):
        train_folds(run, range(5), images, dataset, executor="process")
        summary = summarise_run(run)

The run is locked for the ``with`` block (one process trains a run at a time), and each fold
while it trains (:mod:`comp.files.locks`).

A fold that is finished (its metrics.json exists) is never trained again; an interrupted
one resumes (:mod:`comp.train.fold`).
"""

from __future__ import annotations

import contextlib
import warnings

from comp import metrics
from comp.report import plots
from comp.files.atomic import write_json
from comp.data.checks import DataWarning
from comp.data.folds import FoldData, make_folds, split_fold
from comp.data.images import data_fingerprint, load_competition_images, test_key
from comp.config.recipe import Recipe
from comp.errors import CompError
from comp.files.locks import hold
from comp.runs.config import build_run_config
from comp.runs.identity import run_id_for
from comp.runs.data import check_same_files, check_same_training_set, reopen_data
from comp.runs.data import read_data as _read_data
from comp.runs.run import Run, create_run, folds_frame, run_lock
from comp.targets import kinds
from comp.targets.decisions import fit_decisions
from comp.runs.decided import DECISIONS_FILE
from comp.train.memory_budget import check_fold_memory, input_path
from comp.train.time_budget import budget_line, budget_summary, fold_share
from comp.train.callbacks import check_tensorboard
from comp.train.executors import run_folds
from comp.train.fold import train_fold
from comp.train.teacher import (TARGETS_FILE, Teachers, apply_targets, load_targets, make_targets, n_pseudo,
                                teacher_folds, test_images_for)


def check_recipe(recipe: Recipe) -> None:
    """Fail before any work on an unknown model, model option, augmentation preset or TTA level
    (or train.tensorboard without its package)."""
    from comp.augment.transform import create_preset
    from comp.models import check_options
    from comp.predict.tta import check_tta

    check_options(recipe.model_name, recipe.model_options)
    create_preset(recipe.augment.preset)
    check_tta(recipe.predict.tta)
    if recipe.train.tensorboard:
        check_tensorboard()


@contextlib.contextmanager
def training_run(request, recipe: Recipe, overrides: list[str], run_id: str | None, split_seed: int | None = None,
                 teachers: Teachers | None = None):
    """Create (or reopen) the run of ``request`` (:class:`comp.train.request.TrainRequest`) with
    ``recipe`` (one seed's), locked for the block: config, class map and folds saved before any
    training. Yields (run, dataset, (train images, test images or None)).

    ``split_seed``: the seed of the folds and of the ``--subset`` draw (None: the teachers', else
    ``train.seed``); runs that share it and differ in ``train.seed`` are seeds of one recipe.
    Teachers (:mod:`comp.train.teacher`): the run takes their folds, and its targets are worked
    out from them once, when it is created.
    """
    competition = request.competition
    check_recipe(recipe)
    if split_seed is None:
        split_seed = teachers.runs[0].split_seed if teachers else recipe.train.seed
    dataset = _read_data(competition, request.subset, split_seed)
    if teachers:
        fold_of_row = teacher_folds(teachers, dataset, request.n_folds)
    else:
        target = competition.target
        y, _ = kinds.training_targets(target.kind, dataset.train["label"], dataset.class_names, target.separator,
                                      str(competition.root))
        fold_of_row = make_folds(kinds.strata(target.kind, y), request.n_folds, split_seed, request.val_fraction,
                                 groups=None if dataset.groups is None else dataset.groups.to_numpy())
    images = load_competition_images(competition, dataset, request.subset)  # decoded before any run exists
    config = build_run_config(competition, recipe, request.recipe_ref, overrides, request.n_folds,
                              request.val_fraction, request.subset, data_fingerprint(competition, dataset),
                              split_seed, teachers, request.time_budget_s)
    run_id = run_id or run_id_for(config, request.run_prefix)
    if request.restart and teachers and run_id in {r.id for r in teachers.runs}:
        raise CompError(f"run '{run_id}' is its own teacher (--distill/--pseudo-label {run_id}): --restart would "
                        f"delete the folds its targets come from; pass another --run")
    with hold(run_lock(competition.name, run_id), f"run '{run_id}'", "trained"):
        run, existed = create_run(config, run_id, request.restart, dataset.class_names,
                                  folds_frame(dataset.train["id"], dataset.train["label"], fold_of_row))
        if existed:
            check_same_training_set(run, dataset)
            check_same_files(run, config.data_fingerprint)
        if teachers and not (run.dir / TARGETS_FILE).is_file():
            make_targets(run, teachers, dataset, request.say)
        yield run, dataset, images


def fold_lock(run: Run, k: int):
    """Fold ``k`` locked while it trains (beside the run's folders)."""
    return hold(run.dir / f".fold-{k}.lock", f"fold {k} of run '{run.id}'", "trained")


def fold_path(run: Run, fold_of_row, folds, n_test: int, targets: dict | None = None) -> str:
    """The input path (``memory`` or ``stream``) of the largest of ``folds`` (with its pseudo-labelled images)."""
    n_val = int(min((fold_of_row == k).sum() for k in folds))
    cfg = run.recipe.train
    return input_path(cfg.pipeline, cfg.memory_budget_gb, len(fold_of_row) - n_val + n_pseudo(targets), n_val, n_test,
                      run.competition.data.image_size)


def fold_split(run: Run, k: int, images, dataset, test_images) -> FoldData:
    """Fold ``k`` of ``run``: its folds.csv applied to the images and the dataset's labels (and
    its teachers' targets, if it has teachers)."""
    key = test_key(run.competition, dataset) if test_images is not None else None
    fold_of_row = run.fold_table()["fold"].to_numpy()
    targets = load_targets(run)
    stream = fold_path(run, fold_of_row, [k], 0 if test_images is None else len(test_images), targets) == "stream"
    target = run.competition.target
    y, scale = kinds.training_targets(target.kind, dataset.train["label"], run.class_names, target.separator,
                                      f"{run.dir}/folds.csv")
    data = split_fold(fold_of_row, k, images, y, test_images, len(run.class_names), run.competition.metric,
                      f"{run.dir}/folds.csv", key, stream=stream, kind=target.kind, scale=scale)
    return data if targets is None else apply_targets(data, targets, fold_of_row == k, test_images_for(run))


def load_fold(run: Run, k: int) -> FoldData:
    """Fold ``k`` of an existing run: the run's images (its ``--subset`` draw, if any) split by its folds.csv."""
    with warnings.catch_warnings():  # what the data folder holds was said once, by comp train itself
        warnings.simplefilter("ignore", DataWarning)
        dataset = reopen_data(run)  # checked unchanged since the run started
    x_train, x_test = load_competition_images(run.competition, dataset, run.subset)
    return fold_split(run, k, x_train, dataset, x_test)


def train_fold_in_run(run: Run, k: int, verbose: int = 2) -> dict | None:
    """Train fold ``k`` of an existing run (the body of ``comp train-fold``); None if it was finished."""
    with fold_lock(run, k):
        if run.fold_done(k):
            return None
        return train_fold(run.recipe, load_fold(run, k), run.fold_dir(k), verbose=verbose,
                          time_budget_s=fold_share(run, k))


def train_folds(run: Run, folds, images, dataset, executor: str = "process", gpus: list[str] | None = None,
                verbose: int = 2, say=lambda msg: None) -> list[int]:
    """Train those of ``folds`` that are not finished; returns the ones it trained."""
    x_train, x_test = images
    done = [k for k in folds if run.fold_done(k)]
    todo = [k for k in folds if k not in done]
    if done:
        say(f"fold(s) {', '.join(map(str, done))} already finished: skipped")
    if not todo:
        say("nothing to train: every requested fold is finished (--restart starts over)")
        return []
    say(f"training fold(s) {', '.join(map(str, todo))} ({executor})")
    if run.time_budget_s:
        say(budget_line(run, todo))
    fold_of_row = run.fold_table()["fold"].to_numpy()
    n_val, n_test = int(max((fold_of_row == k).sum() for k in todo)), 0 if x_test is None else len(x_test)
    targets = load_targets(run)
    path = fold_path(run, fold_of_row, todo, n_test, targets)
    check_fold_memory(str(run.dir), len(dataset.train) - n_val + n_pseudo(targets), n_val, n_test,
                      run.competition.data.image_size,
                      parallel=len(gpus) if gpus and executor == "process" else 1, path=path)

    def in_process(k: int) -> None:
        with fold_lock(run, k):
            train_fold(run.recipe, fold_split(run, k, x_train, dataset, x_test), run.fold_dir(k), verbose=verbose,
                       time_budget_s=fold_share(run, k))

    run_folds(run, todo, executor, gpus, in_process)
    return todo


def summarise_run(run: Run) -> dict:
    """Per-fold and out-of-fold scores of a run, written to its metrics.json and plots/; the
    decisions fitted on the OOF predictions (cut points, thresholds: :mod:`comp.targets.decisions`)
    to its decisions.json, which comp predict applies."""
    competition = run.competition
    per_fold = [{"fold": k, **run.fold_metrics(k)} for k in run.finished_folds()]
    _, truth, preds = run.oof()
    decisions = fit_run_decisions(run, truth, preds)
    oof = metrics.scores(competition.metric, truth, preds, decisions)
    summary = {
        "run": run.id,
        "competition": competition.name,
        "recipe": run.recipe.name,
        "metric": competition.metric,
        "folds": run.n_folds,
        "finished_folds": len(per_fold),
        "oof_score": oof["score"],
        **{f"oof_{key}": oof[key] for key in ("accuracy", "log_loss") if key in oof},
        "oof_rows": int(len(truth)),
        "seconds": round(sum(f["seconds"] for f in per_fold), 1),
        "params": per_fold[0]["params"],
        "tta": run.recipe.predict.tta,
        **budget_summary(run, per_fold),
        **({"per_class_f1": dict(zip(run.class_names, metrics.per_class_f1(truth, preds)))}
           if competition.metric == "macro_f1" and run.softmax else {}),
        "per_fold": per_fold,
    }
    write_json(run.dir / "metrics.json", summary)
    plots.plot_curves(run, run.dir / "plots" / "curves.png")
    if run.softmax:
        plots.plot_confusion(truth, preds.argmax(1), run.class_names, run.dir / "plots" / "confusion.png")
    return summary


def fit_run_decisions(run: Run, truth, preds) -> dict:
    """The decisions the metric needs fitted out of fold (none for most), saved as decisions.json."""
    target = run.competition.target
    new_index = run.class_names.index(target.new_label) if target.new_label in run.class_names else None
    decisions = fit_decisions(run.competition.metric, truth, preds, new_index=new_index)
    write_json(run.dir / DECISIONS_FILE, decisions)
    return decisions
