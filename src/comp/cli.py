"""The ``comp`` command line: thin click commands over the library modules.

Logs and tables go to stderr; machine-readable results (a run's folder, a CSV's path, a
score) go to stdout. Bad input ends with one ``error: ...`` line and exit status 2; a bug
ends with exit status 1 (``--debug`` shows its traceback).
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path

import click

from comp.errors import CompError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_COMPETITION = "demo-digits"
DEFAULT_RECIPE = "vgg-mixup"


def _say(msg: str) -> None:
    click.echo(msg, err=True)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    _say(f"warning: {message}")


class CompGroup(click.Group):
    """Turns CompError into one line and exit 2, other exceptions into exit 1."""

    def invoke(self, ctx):
        debug = "--debug" in sys.argv or os.environ.get("COMP_DEBUG") == "1"
        warnings.showwarning = _warning_line
        try:
            return super().invoke(ctx)
        except CompError as e:
            if debug:
                traceback.print_exc()
            _say(f"error: {e}")
            ctx.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            _say("interrupted: re-run the same command to resume")
            ctx.exit(130)
        except Exception as e:  # a bug: say so plainly, keep the traceback behind --debug
            if debug:
                traceback.print_exc()
            _say(f"internal error: {type(e).__name__}: {e} (re-run with --debug for the traceback)")
            ctx.exit(1)


@click.group(cls=CompGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="comp")
def main(debug: bool) -> None:
    """comp: train image classifiers from scratch for competitions, ensemble the folds, submit.

    \b
    A day with comp:
      comp train --competition dacon-cifar10 --folds 5     k-fold training of the default recipe
      comp predict --competition dacon-cifar10 --ensemble  average the folds with TTA, write the CSV
      comp runs                                            the runs so far, with their scores
      comp compare --backbones ResNet50V2,EfficientNetB0   transfer track, offline only
      comp sweep --grid train.batch_size=100,200           a grid of settings, best first
    """


competition_option = click.option("--competition", "-c", default=DEFAULT_COMPETITION, show_default=True,
                                  help="Competition spec: a name from competition/ or a path to a TOML file.")
subset_option = click.option(
    "--subset", type=click.IntRange(min=0), default=0, metavar="N",
    help="Train on at most N images per class (a seeded, stratified draw) and skip the test set: quick comparisons.")
data_option = click.option("--data", type=click.Path(path_type=Path), default=None,
                           help="Use this data folder instead of the spec's data.root.")


# --------------------------------------------------------------------------- train


@main.command()
@competition_option
@click.option("--recipe", "-r", default=DEFAULT_RECIPE, show_default=True,
              help="Recipe: a name from competition/recipes/ or a path to a TOML file.")
@click.option("--folds", "-k", type=int, default=5, show_default=True,
              help="Number of stratified folds; 1 = a single hold-out split.")
@click.option("--val-fraction", type=float, default=0.2, show_default=True,
              help="Validation share of the hold-out split (--folds 1).")
@click.option("--run", "run_id", default=None, help="Run id (default: recipe, folds and a hash of the config).")
@click.option("--fold", type=int, default=None, help="Train only this fold of the run.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key, e.g. --set train.epochs=30 (repeatable).")
@data_option
@click.option("--executor", type=click.Choice(["process", "inline", "ray"]), default="process", show_default=True,
              help="process: one subprocess per fold; inline: all folds in this process; ray: a Ray cluster.")
@click.option("--gpus", default=None, help="Comma-separated GPU ids; one fold runs on each at a time.")
@click.option("--strategy", type=click.Choice(["none", "mirrored"]), default=None,
              help="mirrored: each fold uses every local GPU through tf.distribute (sets train.strategy).")
@click.option("--restart", is_flag=True, help="Delete the run's artifacts and start over.")
@subset_option
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch lines.")
def train(competition, recipe, folds, val_fraction, run_id, fold, overrides, data, executor, gpus, strategy,
          restart, subset, quiet):
    """Train a recipe on a competition with stratified k-fold; print the fold table."""
    from comp.spec import load_competition, load_recipe

    if strategy:
        overrides = (*overrides, f"train.strategy={strategy}")
    comp_spec = load_competition(competition, data)
    recipe_obj = load_recipe(recipe, overrides, comp_spec)
    from comp import report, train as training

    run, dataset, (x_train, x_test) = training.prepare_run(comp_spec, recipe_obj, recipe, list(overrides),
                                                           folds, val_fraction, run_id, restart, subset)
    todo = list(range(folds)) if fold is None else [fold]
    if fold is not None and not 0 <= fold < run.folds:
        raise CompError(f"--fold must be in [0, {run.folds - 1}] for run {run.id}. Received: --fold={fold}")
    done = [k for k in todo if run.fold_done(k)]
    todo = [k for k in todo if k not in done]
    _say(f"run {run.dir} | recipe {recipe_obj.name} | model {recipe_obj.model_name} | "
         f"{len(dataset.train)} train / {len(dataset.test)} test images, {len(dataset.class_names)} classes")
    if done:
        _say(f"fold(s) {', '.join(map(str, done))} already finished: skipped")
    if not todo:
        _say("nothing to train: every requested fold is finished (--restart starts over)")
    else:
        verbose = 0 if quiet else (1 if sys.stderr.isatty() else 2)

        def in_process(k):
            data_k = training.fold_data(run, k, x_train, dataset.labels, x_test)
            training.train_fold(run.recipe, data_k, run.fold_dir(k), verbose=verbose)

        gpu_list = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else None
        training.run_folds(run, todo, executor, gpu_list, in_process)
    if run.finished_folds():
        summary = training.summarise_run(run)
        _say("\n" + report.fold_table(summary))
        _say(f"out-of-fold {summary['metric']}: {summary['oof_score']:.4f} "
             f"({summary['finished_folds']}/{summary['folds']} folds) | plots: {run.dir / 'plots'}")
    click.echo(str(run.dir))


@main.command("train-fold", hidden=True)
@click.option("--run-dir", type=click.Path(path_type=Path), required=True)
@click.option("--fold", type=int, required=True)
def train_fold_cmd(run_dir: Path, fold: int):
    """Train one fold of an existing run (what `comp train` runs in each fold's subprocess)."""
    from comp import train as training
    from comp.runs import open_run

    run = open_run(run_dir.parent.name, run_dir.name)
    if run.fold_done(fold):
        _say(f"[fold-{fold}] already finished")
        return
    training.train_fold_in_run(run, fold, verbose=1 if sys.stderr.isatty() else 2)


# --------------------------------------------------------------------------- predict


@main.command()
@competition_option
@click.option("--run", "run_ids", multiple=True, help="Run id(s) to use (default: the latest run).")
@click.option("--ensemble", is_flag=True, help="Average every finished fold (default: the best fold only).")
@click.option("--tta/--no-tta", default=True, show_default=True, help="Test-time augmentation.")
@click.option("--tta-level", type=click.Choice(["none", "flip", "flip-shift"]), default=None,
              help="TTA views (default: the recipe's, at least flip).")
@click.option("--allow-partial", is_flag=True, help="Let --ensemble use a run with unfinished folds.")
@click.option("--weights", "blend_weights", type=click.Choice(["equal", "oof"]), default="equal", show_default=True,
              help="How several --run are blended: equal weights, or weights fitted on their out-of-fold "
                   "predictions (the runs must share their folds).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="CSV path (default: submissions/<competition>-<run>-<stamp>.csv).")
@data_option
def predict(competition, run_ids, ensemble, tta, tta_level, allow_partial, blend_weights, out, data):
    """Write a submission CSV from trained runs, checked against the sample submission.

    Prints the CSV's path on stdout; a JSON manifest lies beside it.
    """
    from comp.predict import predict_submission
    from comp.spec import load_competition

    comp_spec = load_competition(competition, data)
    path, manifest = predict_submission(comp_spec, list(run_ids), ensemble, tta, tta_level, allow_partial, out, _say,
                                        weights=blend_weights)
    click.echo(str(path))


@main.command()
@click.argument("csv", type=click.Path(path_type=Path))
@competition_option
@data_option
def validate(csv, competition, data):
    """Check a submission CSV against the competition's sample submission and classes."""
    from comp.data.demo import ensure_data
    from comp.data.layouts import read_dataset
    from comp.spec import load_competition
    from comp.submission import validate_csv

    comp_spec = load_competition(competition, data)
    ensure_data(comp_spec)
    dataset = read_dataset(comp_spec)
    frame = validate_csv(csv, comp_spec, dataset.class_names, list(dataset.test["id"]))
    click.echo(f"{csv}: valid ({len(frame)} rows, {comp_spec.name})")


@main.command()
@click.argument("csv", type=click.Path(path_type=Path))
@click.option("--answers", type=click.Path(path_type=Path), required=True, help="id,target CSV of the true labels.")
@competition_option
def score(csv, answers, competition):
    """Print the competition's metric of a submission against known answers."""
    from comp.spec import load_competition
    from comp.submission import score_csv

    comp_spec = load_competition(competition)
    value = score_csv(csv, answers, comp_spec)
    _say(f"{comp_spec.metric} of {csv} against {answers}:")
    click.echo(f"{value:.4f}")


# --------------------------------------------------------------------------- compare, sweep


def comparison_options(fn):
    """The options comp compare and comp sweep share with comp train."""
    options = [
        competition_option,
        click.option("--folds", "-k", type=int, default=1, show_default=True,
                     help="Folds per row; 1 = one hold-out split (quick), 5 = a cross-validated estimate."),
        click.option("--val-fraction", type=float, default=0.2, show_default=True,
                     help="Validation share of the hold-out split (--folds 1)."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override a recipe key in every row, e.g. --set train.epochs=5 (repeatable)."),
        data_option,
        click.option("--executor", type=click.Choice(["process", "inline", "ray"]), default="process",
                     show_default=True, help="How each row's folds run (as in comp train)."),
        click.option("--gpus", default=None, help="Comma-separated GPU ids; one fold runs on each at a time."),
        subset_option,
        click.option("--quiet", "-q", is_flag=True, help="No per-epoch lines."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _comparison(kind, competition, rows_for, folds, val_fraction, overrides, data, executor, gpus, subset, quiet,
                header):
    from comp.compare import markdown_table, run_comparison
    from comp.spec import load_competition

    comp_spec = load_competition(competition, data)
    rows = rows_for(comp_spec)
    gpu_list = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else None
    verbose = 0 if quiet else (1 if sys.stderr.isatty() else 2)
    if subset:
        header = f"{header} Subset: at most {subset} training images per class.".strip()
    out_dir, table = run_comparison(kind, comp_spec, rows, folds, val_fraction, executor, gpu_list, verbose, _say,
                                    header, subset)
    _say("\n" + markdown_table(table) + "\n")
    _say(f"table: {out_dir / 'table.md'} | {out_dir / 'table.csv'} | chart: {out_dir / 'chart.png'}")
    click.echo(str(out_dir))


@main.command()
@click.option("--backbones", default="", metavar="A,B,...",
              help="keras.applications backbones, one row each with the transfer recipe "
                   "(e.g. MobileNetV2,ResNet50V2,EfficientNetB0).")
@click.option("--recipes", default="", metavar="R,S,...", help="Recipes, one row each (e.g. fast,vgg-mixup).")
@click.option("--transfer-recipe", default="transfer", show_default=True, help="The recipe of the --backbones rows.")
@comparison_options
def compare(backbones, recipes, transfer_recipe, competition, folds, val_fraction, overrides, data, executor, gpus, subset,
            quiet):
    """Train backbones and recipes side by side; write a table (Markdown, CSV) and a bar chart.

    \b
    Offline comparison: where the competition forbids pretrained weights, runs that used
    them cannot be submitted (comp predict refuses them). Each row is a normal run.
      comp compare --backbones MobileNetV2,ResNet50V2 --recipes fast --set train.epochs=5
    """
    from comp.compare import backbone_rows, recipe_rows, split_list

    def rows_for(comp_spec):
        return (backbone_rows(split_list(backbones), list(overrides), transfer_recipe)
                + recipe_rows(split_list(recipes), list(overrides), comp_spec, _say))

    header = ("`comp compare" + (f" --backbones {backbones}" if backbones else "")
              + (f" --recipes {recipes}" if recipes else "") + f" --folds {folds}"
              + "".join(f" --set {o}" for o in overrides) + "`")
    _comparison("compare", competition, rows_for, folds, val_fraction, overrides, data, executor, gpus, subset, quiet,
                header)


@main.command()
@click.option("--recipe", "-r", default=DEFAULT_RECIPE, show_default=True, help="The recipe every grid point varies.")
@click.option("--grid", "grids", multiple=True, required=True, metavar="KEY=V1,V2,...",
              help="A recipe key and its values, e.g. --grid train.batch_size=100,200 (repeatable: the product).")
@comparison_options
def sweep(recipe, grids, competition, folds, val_fraction, overrides, data, executor, gpus, subset, quiet):
    """Train every point of a grid of recipe settings; write the table (best first) and a chart.

    \b
      comp sweep -r fast --grid train.batch_size=256,512 --grid train.epochs=10,20
    """
    from comp.compare import grid_rows

    header = (f"`comp sweep --recipe {recipe}" + "".join(f" --grid {g}" for g in grids) + f" --folds {folds}"
              + "".join(f" --set {o}" for o in overrides) + "`")
    _comparison("sweep", competition, lambda comp_spec: grid_rows(recipe, list(grids), list(overrides)), folds,
                val_fraction, overrides, data, executor, gpus, subset, quiet, header)


# --------------------------------------------------------------------------- listings


@main.command()
def models():
    """List the registered models and their options, and the transfer backbones."""
    from comp.models import list_models, model_info
    from comp.models.transfer import list_backbones

    for name in list_models():
        info = model_info(name)
        opts = ", ".join(f"{k}={v!r}" for k, v in info["options"].items())
        click.echo(f"{name:10s} {info['description']}")
        if opts:
            click.echo(f"{'':10s} options: {opts}")
    click.echo(f"backbones of model `transfer` (model.backbone, comp compare --backbones): {', '.join(list_backbones())}")


@main.command()
def recipes():
    """List the recipes (competition/recipes/*.toml)."""
    from comp.spec import list_recipes, load_recipe

    for name in list_recipes():
        r = load_recipe(name)
        click.echo(f"{name:12s} model={r.model_name:8s} {r.description}")


@main.command()
@click.option("--competition", "-c", default=None, help="Only this competition's runs.")
def runs(competition):
    """Every run with its recipe, model, pretrained flag, folds, out-of-fold score, time and submissions."""
    import pandas as pd

    from comp.runs import list_runs
    from comp.submission import manifests_for_run

    rows = []
    for run in list_runs(competition):
        m = run.metrics() or {}
        rows.append({
            "competition": run.config["run"]["competition"], "run": run.id, "recipe": run.config["run"]["recipe"],
            "model": run.model_label, "pretrained": "yes" if run.pretrained else "no",
            "folds": f"{len(run.finished_folds())}/{run.folds}",
            "oof": f"{m['oof_score']:.4f}" if "oof_score" in m else "-",
            "minutes": f"{m['seconds'] / 60:.1f}" if "seconds" in m else "-",
            "submissions": len(manifests_for_run(run.id, run.config["run"]["competition"])),
            "created": run.config.get("created", ""),
        })
    if not rows:
        _say("no runs yet: `comp train` makes one")
        return
    click.echo(pd.DataFrame(rows).to_string(index=False))
