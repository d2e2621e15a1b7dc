"""``comp train``, ``comp compare``, ``comp sweep``, and ``comp train-fold`` (one fold's subprocess)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from comp.cli.app import (DEFAULT_RECIPE, DEFAULT_RECIPE_WHY, FOLD, FOLDS, FRACTION, SEEDS, Integral, Interval, Number,
                          competition_option, data_option, executor_option, gpu_list, gpus_option, keras_verbosity,
                          main, quiet_option, say, subset_option)
from comp.errors import CompError

folds_option = click.option("--folds", "-k", "n_folds", type=FOLDS, default=5, show_default=True,
                            help="Number of stratified folds; 1 = a single hold-out split.")
val_fraction_option = click.option("--val-fraction", type=FRACTION, default=0.2, show_default=True,
                                   help="Validation share of the hold-out split (--folds 1).")
seeds_option = click.option("--seeds", type=SEEDS, default=1, show_default=True, metavar="N",
                            help="Train N seeds (train.seed, +1, ...) on the same folds; report their spread.")


@main.command()
@competition_option
@click.option("--recipe", "-r", "recipe_ref", default=None,
              help=f"Recipe: a name from competition/recipes/ or a path to a TOML file.  [default: {DEFAULT_RECIPE}, "
                   f"{DEFAULT_RECIPE_WHY}]")
@folds_option
@val_fraction_option
@click.option("--run", "run_id", default=None, help="Run id (default: recipe, folds and a hash of the config).")
@click.option("--fold", type=FOLD, default=None, help="Train only this fold of the run.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key, e.g. --set train.epochs=30 (repeatable).")
@data_option
@executor_option
@gpus_option
@click.option("--strategy", type=click.Choice(["none", "mirrored"]), default=None,
              help="mirrored: each fold uses every local GPU through tf.distribute (sets train.strategy).")
@click.option("--restart", is_flag=True, help="Delete the run's artifacts and start over.")
@subset_option
@seeds_option
@click.option("--distill", "distill_ids", multiple=True, metavar="RUN",
              help="Teacher run (repeatable): train on a blend of the labels and its out-of-fold probabilities "
                   "(teacher.distill_weight, teacher.temperature).")
@click.option("--pseudo-label", "pseudo_ids", multiple=True, metavar="RUN",
              help="Teacher run (repeatable): add the test images it labels confidently to every fold's training "
                   "set (teacher.pseudo_*); comp predict refuses such runs where [rules] test_data_training = false.")
@click.option("--time-budget", "time_budget", default=None, metavar="DURATION",
              help="Training time for all the run's folds, also with --fold, e.g. 90s, 45m, 2h, 1h30m: each fold "
                   "gets an equal share of what is left and its epochs are cut so that its schedule still ends "
                   "(a budgeted run is a run of its own).")
@quiet_option
def train(competition_ref, recipe_ref, n_folds, val_fraction, run_id, fold, overrides, data, executor, gpus,
          strategy, restart, subset, seeds, distill_ids, pseudo_ids, time_budget, quiet):
    """Train a recipe on a competition with stratified k-fold; print the fold table.

    With --seeds N, N runs one after another (train.seed, +1, ...; with --run R: R, R-seed<S>),
    all on the folds of the first seed; then a table of the seeds and their spread."""
    from comp.config.spec import load_competition
    from comp.train.request import TrainRequest
    from comp.train.runner import train_run
    from comp.train.time_budget import parse_duration

    if recipe_ref is None:
        recipe_ref = DEFAULT_RECIPE
        say(f"recipe {DEFAULT_RECIPE}, the default: {DEFAULT_RECIPE_WHY}")
    budget = parse_duration(time_budget) if time_budget is not None else None
    request = TrainRequest(
        competition=load_competition(competition_ref, data), recipe_ref=recipe_ref,
        overrides=[*overrides, *([f"train.strategy={strategy}"] if strategy else [])],
        n_folds=n_folds, val_fraction=val_fraction, folds=None if fold is None else [fold], run_id=run_id,
        restart=restart, subset=subset, seeds=seeds, time_budget_s=budget, executor=executor,
        gpus=gpu_list(gpus), verbose=keras_verbosity(quiet), say=say, distill=list(distill_ids),
        pseudo_label=list(pseudo_ids), on_run=lambda run: click.echo(str(run.dir)))
    train_run(request)  # checks the request (--fold, recipe, run ids, teachers) before any decoding or run folder


@main.command("train-fold", hidden=True)
@click.option("--run-dir", type=click.Path(path_type=Path), required=True)
@click.option("--fold", type=FOLD, required=True)
@click.option("--parent-pid", type=Number(Interval(Integral, 1, 2**31 - 1)), default=None,
              help="Exit when this process (comp train) is gone.")
def train_fold_cmd(run_dir: Path, fold: int, parent_pid: int | None):
    """Train one fold of an existing run (what `comp train` runs in each fold's subprocess)."""
    from comp.train.executors import watch_parent

    if parent_pid:
        watch_parent(parent_pid)
    from comp.files.paths import inside
    from comp.runs.run import RUNS_DIR, open_run
    from comp.train.kfold import train_fold_in_run

    run = open_run(run_dir.parent.name, run_dir.name)
    if inside(RUNS_DIR, run_dir) != run.dir.resolve():  # the run this process would write is that folder
        raise CompError(f"--run-dir {run_dir}: not a run folder runs/<competition>/<run id>")
    if train_fold_in_run(run, fold, verbose=1 if sys.stderr.isatty() else 2) is None:
        say(f"[fold-{fold}] already finished")


# --------------------------------------------------------------------------- compare, sweep


def comparison_options(fn):
    """The options comp compare and comp sweep share with comp train."""
    options = [
        competition_option,
        click.option("--folds", "-k", "n_folds", type=FOLDS, default=1, show_default=True,
                     help="Folds per row; 1 = one hold-out split (quick), 5 = a cross-validated estimate."),
        val_fraction_option,
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override a recipe key in every row, e.g. --set train.epochs=5 (repeatable)."),
        data_option,
        executor_option,
        gpus_option,
        subset_option,
        seeds_option,
        quiet_option,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _comparison(kind, competition_ref, rows_for, n_folds, val_fraction, overrides, data, executor, gpus, subset,
                quiet, header, seeds=1):
    from comp.train.compare import run_comparison
    from comp.report.plots import markdown_table
    from comp.runs.seeds import spread_note
    from comp.config.spec import load_competition

    from comp.train.request import TrainRequest

    gpu_ids = gpu_list(gpus)
    competition = load_competition(competition_ref, data)
    rows = rows_for(competition)
    if subset:
        header = f"{header} Subset: at most {subset} training images per class.".strip()
    if seeds > 1:
        header = f"{header} Seeds: {seeds} per row, on the same folds.".strip()
    base = TrainRequest(competition=competition, recipe_ref="", n_folds=n_folds, val_fraction=val_fraction,
                        subset=subset, seeds=seeds, executor=executor, gpus=gpu_ids, verbose=keras_verbosity(quiet),
                        say=say)
    out_dir, table = run_comparison(kind, base, rows, header)
    say("\n" + markdown_table(table) + "\n")
    if spread_note(table):
        say(spread_note(table))
    say(f"table: {out_dir / 'table.md'} | {out_dir / 'table.csv'} | chart: {out_dir / 'chart.png'}")
    click.echo(str(out_dir))


@main.command()
@click.option("--backbones", default="", metavar="A,B,...",
              help="keras.applications backbones, one row each with the transfer recipe "
                   "(e.g. MobileNetV2,ResNet50V2,EfficientNetB0).")
@click.option("--recipes", default="", metavar="R,S,...", help="Recipes, one row each (e.g. fast,vgg-mixup).")
@click.option("--transfer-recipe", default="transfer", show_default=True, help="The recipe of the --backbones rows.")
@comparison_options
def compare(backbones, recipes, transfer_recipe, competition_ref, n_folds, val_fraction, overrides, data, executor,
            gpus, subset, seeds, quiet):
    """Train backbones and recipes side by side; write a table (Markdown, CSV) and a bar chart.

    \b
    Offline comparison: where the competition forbids pretrained weights, runs that used
    them cannot be submitted (comp predict refuses them). Each row is a normal run.
      comp compare --backbones MobileNetV2,ResNet50V2 --recipes fast --set train.epochs=5
    """
    from comp.train.compare import backbone_rows, recipe_rows, split_list

    def rows_for(competition):
        return (backbone_rows(split_list(backbones), list(overrides), transfer_recipe)
                + recipe_rows(split_list(recipes), list(overrides), competition, say))

    header = ("`comp compare" + (f" --backbones {backbones}" if backbones else "")
              + (f" --recipes {recipes}" if recipes else "") + f" --folds {n_folds}"
              + "".join(f" --set {o}" for o in overrides) + "`")
    _comparison("compare", competition_ref, rows_for, n_folds, val_fraction, overrides, data, executor, gpus, subset,
                quiet, header, seeds)


@main.command()
@click.option("--recipe", "-r", "recipe_ref", default=DEFAULT_RECIPE, show_default=True,
              help="The recipe every grid point varies.")
@click.option("--grid", "grids", multiple=True, required=True, metavar="KEY=V1,V2,...",
              help="A recipe key and its values, e.g. --grid train.batch_size=100,200 (repeatable: the product).")
@comparison_options
def sweep(recipe_ref, grids, competition_ref, n_folds, val_fraction, overrides, data, executor, gpus, subset, seeds,
          quiet):
    """Train every point of a grid of recipe settings; write the table (best first) and a chart.

    \b
      comp sweep -r fast --grid train.batch_size=256,512 --grid train.epochs=10,20
    """
    from comp.train.compare import grid_rows

    header = (f"`comp sweep --recipe {recipe_ref}" + "".join(f" --grid {g}" for g in grids) + f" --folds {n_folds}"
              + "".join(f" --set {o}" for o in overrides) + "`")
    _comparison("sweep", competition_ref, lambda competition: grid_rows(recipe_ref, list(grids), list(overrides)),
                n_folds, val_fraction, overrides, data, executor, gpus, subset, quiet, header, seeds)
