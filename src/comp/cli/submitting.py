"""``comp predict`` (the submission CSV), ``comp validate`` and ``comp score``."""

from __future__ import annotations

from pathlib import Path

import click

from comp.cli.app import competition_option, data_option, main, say, tta_level_option, tta_share_option


@main.command()
@competition_option
@click.option("--run", "run_ids", multiple=True, help="Run id(s) to use (default: the latest run).")
@click.option("--ensemble", is_flag=True, help="Average every finished fold (default: the best fold only).")
@click.option("--tta/--no-tta", default=True, show_default=True, help="Test-time augmentation.")
@tta_level_option
@tta_share_option
@click.option("--allow-partial", is_flag=True, help="Let --ensemble use a run with unfinished folds.")
@click.option("--weights", "blend_weights", type=click.Choice(["equal", "oof"]), default="equal", show_default=True,
              help="How several --run are blended: equal weights, or weights fitted on their out-of-fold "
                   "predictions (the runs must share their folds).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="CSV path, ending in .csv and outside the competition's data "
                   "(default: submissions/<competition>-<run>-<stamp>.csv, never an existing name).")
@click.option("--force", is_flag=True, help="Let --out replace an existing file (the CSV and its .json manifest).")
@data_option
def predict(competition_ref, run_ids, ensemble, tta, tta_level, tta_share, allow_partial, blend_weights, out, force,
            data):
    """Write a submission CSV from trained runs, checked against the sample submission.

    Prints the CSV's path on stdout; a JSON manifest lies beside it.
    """
    from comp.config.spec import load_competition
    from comp.submit.submission import check_out_path, make_submission

    competition = load_competition(competition_ref, data)
    if out is not None:
        check_out_path(competition, out, force)  # before any work
    path, _ = make_submission(competition, list(run_ids), ensemble, tta, tta_level, allow_partial, out, say,
                              weights=blend_weights, tta_share=tta_share)
    click.echo(str(path))


@main.command()
@click.argument("csv", type=click.Path(path_type=Path))
@competition_option
@data_option
def validate(csv, competition_ref, data):
    """Check a submission CSV against the competition's sample submission and classes."""
    from comp.data.demo import ensure_data
    from comp.data.layouts import read_dataset
    from comp.config.spec import load_competition
    from comp.submit.submission import validate_csv

    competition = load_competition(competition_ref, data)
    ensure_data(competition)
    dataset = read_dataset(competition)
    frame = validate_csv(csv, competition, dataset.class_names, list(dataset.test["id"]))
    click.echo(f"{csv}: valid ({len(frame)} rows, {competition.name})")


@main.command()
@click.argument("csv", type=click.Path(path_type=Path))
@click.option("--answers", type=click.Path(path_type=Path), required=True, help="id,target CSV of the true labels.")
@competition_option
def score(csv, answers, competition_ref):
    """Print the competition's metric of a submission against known answers."""
    from comp.config.spec import load_competition
    from comp.submit.submission import score_csv

    competition = load_competition(competition_ref)
    value = score_csv(csv, answers, competition)
    say(f"{competition.metric} of {csv} against {answers}:")
    click.echo(f"{value:.4f}")
