"""``comp models``, ``comp recipes`` and ``comp runs``: what there is to train with, and what was trained."""

from __future__ import annotations

import click

from comp.cli.app import main, say


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
    from comp.cli.app import DEFAULT_RECIPE
    from comp.config.recipe import list_recipes, load_recipe

    names = list_recipes()
    width = max(map(len, names), default=0) + 1
    for name in names:
        r = load_recipe(name)
        default = " (the default)" if name == DEFAULT_RECIPE else ""
        click.echo(f"{name:{width}s} model={r.model_name:8s} {r.description}{default}")


@main.command()
@click.option("--competition", "-c", default=None, help="Only this competition's runs.")
def runs(competition):
    """Every run with its recipe, model, pretrained flag, folds, out-of-fold score, time, submissions
    and the `--set` overrides it was trained with (their first 60 characters; all of them are in
    the run's config.toml).

    Below the table, one line per seed group (runs that differ only in the seed, on the same
    folds, scored on the same finished folds: `comp train --seeds N`, also with --fold): their
    out-of-fold mean and standard deviation."""
    import pandas as pd

    from comp.runs.listing import list_runs
    from comp.runs.seeds import group_line, group_of, seed_groups
    from comp.submit.submission import manifests_for_run

    rows, all_runs = [], list_runs(competition)
    groups = seed_groups(all_runs)
    for run in all_runs:
        m = run.metrics() or {}
        group = group_of(groups, run.competition_name, run.id)
        rows.append({
            "competition": run.competition_name, "run": run.id, "recipe": run.recipe_name,
            "model": run.model_label, "pretrained": "yes" if run.pretrained else "no", "teacher": _taught(run),
            "folds": f"{len(run.finished_folds())}/{run.n_folds}",
            "oof": f"{m['oof_score']:.4f}" if "oof_score" in m else "-",
            "seeds": str(group.n) if group else "-",
            "minutes": f"{m['seconds'] / 60:.1f}" if "seconds" in m else "-",
            "submissions": len(manifests_for_run(run.id, run.competition_name)),
            "created": run.created,
            "overrides": _overrides_text(run.overrides),
        })
    if not rows:
        say("no runs yet: `comp train` makes one")
        return
    click.echo(pd.DataFrame(rows).to_string(index=False))
    for group in groups:
        click.echo(group_line(group))


OVERRIDES_WIDTH = 60


def _overrides_text(overrides: list[str]) -> str:
    """``train.epochs=12,train.lr=0.5``; ``-`` for none; cut to OVERRIDES_WIDTH characters with ``...``."""
    text = ",".join(overrides) or "-"
    return text if len(text) <= OVERRIDES_WIDTH else text[:OVERRIDES_WIDTH - 3] + "..."


def _taught(run) -> str:
    """How the run learnt from teacher runs: distill, pseudo (trained on test images), both, or -."""
    teacher = run.teacher
    kinds = [] if teacher is None else [name for name, ids in (("distill", teacher.distill),
                                                                ("pseudo", teacher.pseudo_label)) if ids]
    return "+".join(kinds) or "-"
