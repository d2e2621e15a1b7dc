"""The k-fold driver: prepare (or reopen) a run, train its folds, summarise it.

``comp train`` and every row of ``comp compare`` / ``comp sweep`` go through the same three
calls::

    run, dataset, images = prepare_run(competition, recipe, "fast", [], n_folds=5, ...)
    train_folds(run, range(5), images, dataset.labels, executor="process")
    summary = summarise_run(run)

A fold that is finished (its metrics.json exists) is never trained again; an interrupted
one resumes (:mod:`comp.train.fold`).
"""

from __future__ import annotations

from comp import metrics, report
from comp.atomic import write_json
from comp.data.demo import ensure_data
from comp.data.folds import FoldData, make_folds, split_fold
from comp.data.images import load_competition_images
from comp.data.layouts import read_dataset, subset_dataset
from comp.errors import CompError
from comp.recipe import Recipe
from comp.runs import Run, create_run, run_config, save_classes, save_fold_table
from comp.train.executors import run_folds
from comp.train.fold import train_fold


def check_recipe(recipe: Recipe) -> None:
    """Fail before any work on an unknown model, model option, augmentation preset or TTA level."""
    from comp.augment import create_preset
    from comp.models import check_options
    from comp.tta import check_tta

    check_options(recipe.model_name, recipe.model_options)
    create_preset(recipe.augment.preset)
    check_tta(recipe.predict.tta)


def check_same_training_set(run: Run, dataset) -> None:
    """The run's classes and training ids must still be the data's: its folds index them."""
    if run.class_names != dataset.class_names:
        raise CompError(f"{run.dir}/classes.json: the run's classes {run.class_names} differ from "
                        f"the data's {dataset.class_names}; pass --restart or a new --run")
    if list(run.fold_table()["id"]) != list(dataset.train["id"]):
        raise CompError(f"{run.dir}/folds.csv: the training images changed since this run started; "
                        f"pass --restart or a new --run")


def _read_data(competition, recipe: Recipe, subset: int):
    ensure_data(competition)
    dataset = read_dataset(competition)
    return subset_dataset(dataset, subset, recipe.train.seed) if subset else dataset


def prepare_run(competition, recipe: Recipe, recipe_ref: str, overrides: list[str], n_folds: int,
                val_fraction: float, run_id: str | None, restart: bool, subset: int = 0):
    """Create (or reopen) the run: config, class map and folds saved before any training.

    ``subset``: at most that many training images per class, and no test images (a quick
    comparison). Returns (run, dataset, (train images, test images or None)).
    """
    check_recipe(recipe)
    dataset = _read_data(competition, recipe, subset)
    fold_of_row = make_folds(dataset.labels, n_folds, recipe.train.seed, val_fraction)
    images = load_competition_images(competition, dataset, subset)  # decoded before any run exists
    config = run_config(competition, recipe, n_folds, val_fraction, overrides, recipe_ref, subset)
    run, existed = create_run(config, run_id, restart)
    if existed:
        check_same_training_set(run, dataset)
    else:
        save_classes(run, dataset.class_names)
        save_fold_table(run, dataset.train["id"], dataset.train["label"], fold_of_row)
    return run, dataset, images


def fold_split(run: Run, k: int, images, labels, test_images) -> FoldData:
    """Fold ``k`` of ``run``: its folds.csv applied to the images and labels."""
    return split_fold(run.fold_table()["fold"].to_numpy(), k, images, labels, test_images,
                      len(run.class_names), run.competition.metric, f"{run.dir}/folds.csv")


def load_fold(run: Run, k: int) -> FoldData:
    """Fold ``k`` of an existing run: the run's images (its ``--subset`` draw, if any) split by its folds.csv."""
    dataset = _read_data(run.competition, run.recipe, run.subset)
    check_same_training_set(run, dataset)
    x_train, x_test = load_competition_images(run.competition, dataset, run.subset)
    return fold_split(run, k, x_train, dataset.labels, x_test)


def train_fold_in_run(run: Run, k: int, verbose: int = 2) -> dict:
    """Train fold ``k`` of an existing run (the body of ``comp train-fold``)."""
    return train_fold(run.recipe, load_fold(run, k), run.fold_dir(k), verbose=verbose)


def train_folds(run: Run, folds, images, labels, executor: str = "process", gpus: list[str] | None = None,
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

    def in_process(k: int) -> None:
        train_fold(run.recipe, fold_split(run, k, x_train, labels, x_test), run.fold_dir(k), verbose=verbose)

    run_folds(run, todo, executor, gpus, in_process)
    return todo


def summarise_run(run: Run) -> dict:
    """Per-fold and out-of-fold scores of a run, written to its metrics.json and plots/."""
    competition = run.competition
    per_fold = [{"fold": k, **run.fold_metrics(k)} for k in run.finished_folds()]
    _, labels, probs = run.oof()
    oof = metrics.scores(competition.metric, labels, probs)
    summary = {
        "run": run.id,
        "competition": competition.name,
        "recipe": run.recipe.name,
        "metric": competition.metric,
        "folds": run.n_folds,
        "finished_folds": len(per_fold),
        "oof_score": oof["score"],
        "oof_accuracy": oof["accuracy"],
        "oof_log_loss": oof["log_loss"],
        "oof_rows": int(len(labels)),
        "seconds": round(sum(f["seconds"] for f in per_fold), 1),
        "params": per_fold[0]["params"],
        "tta": run.recipe.predict.tta,
        "per_fold": per_fold,
    }
    write_json(run.dir / "metrics.json", summary)
    report.plot_curves(run, run.dir / "plots" / "curves.png")
    report.plot_confusion(labels, probs.argmax(1), run.class_names, run.dir / "plots" / "confusion.png")
    return summary
