"""``comp export``: runs as a Kaggle dataset and an offline inference kernel (code competitions)."""

from __future__ import annotations

from pathlib import Path

import click

from comp.cli.app import Number, competition_option, data_option, main, say
from comp.config.fields import Integral, Interval


@main.command()
@competition_option
@click.option("--run", "run_ids", multiple=True, help="Run id(s) to export (default: the latest run).")
@click.option("--weights", "blend_weights", type=click.Choice(["equal", "oof"]), default="equal", show_default=True,
              help="How several --run are blended: equal weights, or weights fitted on their out-of-fold predictions.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="The export folder (default: exports/<competition>-<slug>): dataset/ and kernel/ inside.")
@click.option("--owner", default=None, help="Your Kaggle user name (default: KAGGLE_USERNAME or kaggle.json's).")
@click.option("--slug", default=None, help="The Kaggle dataset's slug (default: from the competition and runs).")
@click.option("--test-images", type=Number(Interval(Integral, 1, 10**9)), default=None,
              help="Test images the kernel will predict, where the hidden test set is larger than the public one "
                   "(default: the public test set's): the time estimate scales to it.")
@click.option("--allow-partial", is_flag=True, help="Export a run with unfinished folds (its finished folds' models).")
@click.option("--force", is_flag=True, help="Replace an existing export folder.")
@click.option("--push", is_flag=True, help="Then create or version the dataset, push the kernel and submit its output "
                                           "(the kaggle package; the same refusals as comp submit, before any upload).")
@click.option("--message", default="comp export", show_default=True, help="The dataset version's notes (--push).")
@data_option
def export(competition_ref, run_ids, blend_weights, out, owner, slug, test_images, allow_partial, force, push, message,
           data):
    """Write the runs as a Kaggle dataset (models, comp, fitted decisions, package versions) and an
    offline inference kernel that writes the same CSV as `comp predict --ensemble`.

    \b
    Example:
      comp export -c my-code-competition --run fast-muon-5f-941c79 --owner me
      python exports/<name>/kernel/kernel.py --competition-dir data/my-code-competition \\
          --dataset-dir exports/<name>/dataset --out sub.csv
    The time the kernel will need is measured here and fitted to [platform] kernel_time_limit.
    """
    from comp.config.spec import load_competition
    from comp.export.bundle import write_export
    from comp.export.plan import plan_export

    competition = load_competition(competition_ref, data)
    plan = plan_export(competition, list(run_ids), blend_weights, owner, slug, test_images, say, allow_partial)
    path = write_export(plan, out or Path("exports") / plan.slug, force)
    say(f"wrote {path}/dataset ({sum(len(r.finished_folds()) for r in plan.runs)} model(s), lib/comp/, export.json) "
        f"and {path}/kernel (kernel.py, kernel-metadata.json)")
    if push:
        from comp.submit.kernel_push import plan_push, push as push_export
        from comp.submit.upload import kaggle_api

        pushed = push_export(plan_push(path, competition), kaggle_api(), say, submit=True, message=message)
        say(f"pushed: {pushed}")
    click.echo(str(path))
