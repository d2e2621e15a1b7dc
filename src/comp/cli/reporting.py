"""``comp report``: a run's HTML page (curves, folds, confusion, per-class scores, mistakes, submissions)."""

from __future__ import annotations

import click

from comp.cli.app import data_option, main, say


def _run_for(run_id: str, competition_ref: str | None):
    """The run ``run_id`` of the competition named (a name or a spec's path), or of the one
    competition under runs/ that has a run of that id."""
    from comp.errors import CompError
    from comp.files.paths import check_name
    from comp.runs.run import RUNS_DIR, open_run

    if competition_ref is not None:
        if competition_ref.endswith(".toml") or "/" in competition_ref:
            from comp.config.spec import load_competition

            competition_ref = load_competition(competition_ref).name
        return open_run(competition_ref, run_id)
    found = sorted(p.parent.parent.name for p in RUNS_DIR.glob(f"*/{check_name(run_id, 'RUN')}/config.toml"))
    if not found:
        raise CompError(f"no run '{run_id}' in {RUNS_DIR}/<competition>/; `comp runs` lists the runs")
    if len(found) > 1:
        raise CompError(f"run '{run_id}' exists for several competitions ({', '.join(found)}); pass -c COMPETITION")
    return open_run(found[0], run_id)


@main.command()
@click.argument("run_id", metavar="RUN")
@click.option("--competition", "-c", "competition_ref", default=None,
              help="The run's competition: a name or a spec's path (default: the one with a run of that id).")
@data_option
def report(run_id, competition_ref, data):
    """Write RUN's report page, runs/<competition>/RUN/report/index.html, and print its path.

    One self-contained HTML file: learning curves per fold, the fold table, the out-of-fold
    confusion matrix, per-class accuracy (and F1 for macro_f1), the costliest out-of-fold
    mistakes as images, and the submissions made from the run with their leaderboard scores
    where submissions/ledger.csv has them. A partial run reports its finished folds.
    --data: where the training images lie now, if not at the run's data.root."""
    from comp.report.page import write_report

    run = _run_for(run_id, competition_ref)
    if data is not None:  # the images of the mistakes grid: read from there (the run's config is not changed)
        run.competition.data.root = str(data)
    path = write_report(run, say)
    finished = run.finished_folds()
    say(f"report of run '{run.id}': {len(finished)} of {run.n_folds} folds finished")
    click.echo(str(path))
