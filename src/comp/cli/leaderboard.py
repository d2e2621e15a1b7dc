"""``comp submit`` (upload a checked CSV to the competition's platform) and ``comp lb`` (the
ledger of submissions: ``lb add``, ``lb fetch``, and CV against the leaderboard)."""

from __future__ import annotations

from pathlib import Path

import click

from comp.cli.app import main, say

# A leaderboard score's range is its metric's (comp.metrics.RANGES, NaN and infinities refused), known
# once the CSV's manifest names the metric: the ledger checks it there, with a hint for a percentage.
SCORE = click.FLOAT

spec_option = click.option("--competition", "-c", "competition_ref", default=None,
                           help="Competition spec: a name from competition/ or a path to a TOML file "
                                "(default: the competition of the manifest, or of the ledger's last row).")


def _spec(competition_ref: str | None, name: str):
    """The spec ``-c`` names, or the one named ``name`` (checked as a plain name first)."""
    from comp.files.paths import check_name
    from comp.config.spec import load_competition

    return load_competition(competition_ref or check_name(name, "competition"))


@main.command()
@click.argument("csv", type=click.Path(path_type=Path), required=False)
@click.option("--kernel", "export_dir", type=click.Path(path_type=Path), default=None,
              help="Instead of a CSV: push this comp export folder (its dataset, then its kernel) to Kaggle and "
                   "submit the code competition from the kernel's new version.")
@click.option("--message", "-m", default=None,
              help="The submission's description (default: its runs and OOF score).")
@click.option("--dry-run", is_flag=True, help="Check everything and print what would be sent; send nothing.")
@spec_option
def submit(csv, export_dir, message, dry_run, competition_ref):
    """Upload a submission CSV to the platform in the spec's [platform] table (Kaggle or Dacon).

    Refused, before any network call, without a manifest beside the CSV, when the CSV changed since
    comp predict wrote it, when a run it was made from is gone or breaks the rules now, when the
    spec has no [platform] table, or when submissions/ledger.csv cannot be read. A sent CSV gets a
    row in that ledger.

    With --kernel EXPORT_DIR (a Kaggle code competition), the export that comp export wrote is
    checked the same way (its metadata, an offline kernel, its runs against the rules now), then its
    dataset is created or versioned, its kernel pushed, and the kernel's output submitted.
    """
    if export_dir is not None or csv is None:
        return _submit_kernel(csv, export_dir, message, dry_run, competition_ref)
    from comp.submit.ledger import append_row, ledger_path, ledger_row, read_ledger
    from comp.submit.upload import plan_upload, read_manifest, send

    competition = _spec(competition_ref, read_manifest(csv).competition)
    upload = plan_upload(csv, competition, message)
    read_ledger()  # the sent CSV's row will be written there: a damaged ledger refuses before the upload
    if dry_run:
        for line in upload.lines():
            click.echo(line)
        say("dry run: nothing was sent")
        return
    reply = send(upload)
    say(f"{upload.platform}: {reply or 'sent'}")
    try:
        frame = append_row(ledger_row(upload.csv, upload.manifest, upload.message))
    except Exception as e:
        from comp.errors import CompError

        raise CompError(f"{upload.csv} was sent, but the ledger was not updated ({e}); record it with "
                        f"comp lb add {upload.csv} <public score>") from None
    say(f"ledger: row {len(frame)} of {ledger_path()}")
    click.echo(f"submitted {upload.csv} to {upload.platform} {upload.competition}")


def _submit_kernel(csv, export_dir, message, dry_run, competition_ref) -> None:
    """``comp submit --kernel EXPORT_DIR``: plan_push, then push with submit (comp.submit.kernel_push)."""
    from comp.errors import CompError
    from comp.submit.kernel_push import export_runs, plan_push, push
    from comp.submit.upload import kaggle_api

    if csv is not None and export_dir is not None:
        raise CompError(f"comp submit takes a CSV or --kernel EXPORT_DIR, not both. Received: {csv} and "
                        f"--kernel {export_dir}")
    if export_dir is None:
        raise CompError("comp submit needs a CSV (written by comp predict) or --kernel EXPORT_DIR (written by "
                        "comp export)")
    name = "" if competition_ref else export_runs(export_dir / "dataset")[0]  # the export's competition
    plan = plan_push(export_dir, _spec(competition_ref, name))
    if dry_run:
        for line in plan.lines(message):
            click.echo(line)
        say("dry run: nothing was sent")
        return
    record = push(plan, kaggle_api(), say, True, message)
    say(f"kaggle: {record.get('submission_message') or 'submitted'}")
    click.echo(f"submitted kernel {record['kernel']} version {record['kernel_version']} "
               f"(dataset {record['dataset']}, {record['dataset_action']}) to kaggle {record['competition']}")


@main.group(invoke_without_command=True)
@spec_option
@click.pass_context
def lb(ctx, competition_ref):
    """CV against the leaderboard: the ledger's table, their rank correlation, warnings and a plot.

    \b
    comp lb                                 the table, Spearman's rho, warnings, submissions/lb.png
    comp lb add CSV 0.8646 --private 0.861  record a CSV's leaderboard scores
    comp lb fetch                           fetch the scores from Kaggle
    """
    if ctx.invoked_subcommand is not None:
        return
    from comp.errors import CompError
    from comp.submit.leaderboard import correlation_line, lb_table, lb_warnings, plot_lb
    from comp.submit.ledger import ledger_path, read_ledger, scores_frame

    ledger = read_ledger()
    if ledger.empty:
        raise CompError(f"{ledger_path()}: no submissions recorded yet; comp submit or comp lb add records them")
    name = _spec(competition_ref, "").name if competition_ref else ledger["competition"].iloc[-1]
    rows = scores_frame(ledger)
    rows = rows[rows["competition"] == name]
    if rows.empty:
        raise CompError(f"{ledger_path()}: no submissions of '{name}'; "
                        f"those recorded are of {', '.join(sorted(set(ledger['competition'])))}")
    metric = rows["metric"].iloc[-1]
    click.echo(f"{name}: {len(rows)} submission(s), metric {metric or 'unknown'}")
    click.echo(lb_table(rows))
    click.echo(correlation_line(rows))
    for line in lb_warnings(rows, metric):
        say(f"warning: {line}")
    plot = ledger_path().parent / "lb.png"
    if plot_lb(rows, metric, plot):
        say(f"wrote {plot}")


@lb.command("add")
@click.argument("csv", type=click.Path(path_type=Path))
@click.argument("public", type=SCORE)
@click.option("--private", type=SCORE, default=None, help="The private leaderboard score.")
@click.option("--message", "-m", default="", help="The message of a row added for a CSV not in the ledger.")
def lb_add(csv, public, private, message):
    """Record a submission's public (and private) leaderboard score.

    The score goes to the ledger's latest row of the CSV's file, found by its sha256 (the manifest's,
    checked against the file): a CSV not in the ledger yet (submitted by hand, or replaced at the same
    path) gets a row from its manifest. A score outside the metric's range is refused."""
    from comp.submit.ledger import ledger_path, record_scores

    row, added = record_scores(csv, public, private, message)
    scores = f"public {row['public']}" + (f", private {row['private']}" if row["private"] else "")
    say(f"{'added' if added else 'updated'} {row['csv']} in {ledger_path()}: {scores}")


@lb.command("fetch")
@spec_option
def lb_fetch(competition_ref):
    """Fill in the ledger's scores from Kaggle's list of the competition's latest submissions.

    A ledger row matches the submission with its CSV's file name (of several: the same message,
    then the nearest time). A score outside the metric's range is skipped with a warning."""
    from comp.errors import CompError
    from comp.submit.leaderboard import fetch_scores
    from comp.submit.ledger import ledger_path, read_ledger
    from comp.submit.upload import kaggle_api, platform_of

    ledger = read_ledger()
    if ledger.empty and not competition_ref:
        raise CompError(f"{ledger_path()}: no submissions recorded yet; nothing to fetch")
    competition = _spec(competition_ref, "" if ledger.empty else ledger["competition"].iloc[-1])
    platform, slug = platform_of(competition)
    if platform != "kaggle":
        raise CompError(f"comp lb fetch reads Kaggle's submission list; {competition.name}'s platform is "
                        f"{platform}: record its scores with comp lb add CSV SCORE")
    counts, warnings = fetch_scores(kaggle_api(), slug, competition.name, competition.metric)
    for line in warnings:
        say(f"warning: {line}")
    skipped = f", {counts['skipped']} skipped (scores out of range)" if counts["skipped"] else ""
    say(f"{ledger_path()}: {counts['scored']} scored, {counts['pending']} pending, "
        f"{counts['not found']} not among the latest Kaggle submissions of {slug}{skipped}")
