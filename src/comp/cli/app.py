"""The command group: one ``error: ...`` line and exit 2 for bad input, exit 1 for a bug.

Logs and tables go to stderr; machine-readable results (a run's folder, a CSV's path, a
score) go to stdout. ``--debug`` (or ``COMP_DEBUG=1``) shows the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path

import click

from comp.config.fields import Integral, Interval, Real
from comp.errors import CompError
from comp.predict.tta import TTA_LEVELS
from comp.train.executors import EXECUTORS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_COMPETITION = "demo-digits"
DEFAULT_RECIPE = "fast-muon"
# comp train's first line where --recipe is not given: which recipe, and the figures behind it
DEFAULT_RECIPE_WHY = ("the most accurate recipe in its own time, 12 epochs (2 CPU cores: dacon-cifar10 and the demo, "
                      "competition/recipes/README.md); given twice that time or more, --recipe fast-deep is as "
                      "accurate or better (+0.6 points at 3.2x); the same on a GPU, for want of GPU figures")


def say(msg: str) -> None:
    click.echo(msg, err=True)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    say(f"warning: {message}")


class CompGroup(click.Group):
    """Turns CompError into one line and exit 2, other exceptions into exit 1."""

    def invoke(self, ctx):
        # ctx.params holds the group's own options, parsed before invoke (also under CliRunner)
        debug = bool(ctx.params.get("debug")) or os.environ.get("COMP_DEBUG") == "1"
        warnings.showwarning = _warning_line
        try:
            return super().invoke(ctx)
        except CompError as e:
            if debug:
                traceback.print_exc()
            say(f"error: {e}")
            ctx.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            say("interrupted: re-run the same command to resume")
            ctx.exit(130)
        except Exception as e:  # a bug: say so plainly, keep the traceback behind --debug
            if debug:
                traceback.print_exc()
            say(f"internal error: {type(e).__name__}: {e} (re-run with --debug for the traceback)")
            ctx.exit(1)


@click.group(cls=CompGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="comp")
def main(debug: bool) -> None:
    """comp: train image classifiers from scratch for competitions, ensemble the folds, submit.

    \b
    A day with comp (a Kaggle folder first: comp init data/<competition> --metric roc_auc):
      comp train --competition dacon-cifar10 --folds 5     k-fold training of the default recipe
      comp predict --competition dacon-cifar10 --ensemble  average the folds with TTA, write the CSV
      comp runs                                            the runs so far, with their scores
      comp report RUN                                      a run's HTML page: curves, mistakes, submissions
      comp submit submissions/<file>.csv -m "first"        upload it (Kaggle, Dacon); --dry-run first
      comp export --run RUN --owner ME                     a code competition's dataset and offline kernel
      comp lb add submissions/<file>.csv 0.8646            its leaderboard score; comp lb: CV against LB
      comp compare --backbones ResNet50V2,EfficientNetB0   transfer track, offline only
      comp sweep --grid train.batch_size=100,200           a grid of settings, best first
    """


# --------------------------------------------------------------------------- shared options and values


class Number(click.ParamType):
    """An integer or real CLI value with a declared range (:class:`comp.config.fields.Interval`, as a
    recipe key's): a value outside it, NaN or an infinity is one error line naming the option."""

    def __init__(self, interval: Interval):
        self.interval = interval
        self.name = "integer" if interval.kind is Integral else "number"

    def convert(self, value, param, ctx):
        flag = param.opts[0] if param is not None and param.opts[0].startswith("-") else \
            (param.human_readable_name if param is not None else "value")
        integer = self.interval.kind is Integral
        try:
            number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else \
                int(value) if integer else float(value)
        except (TypeError, ValueError):
            raise CompError(f"{flag} must be {'an integer' if integer else 'a number'}. "
                            f"Received: {flag}={value!r}") from None
        if number not in self.interval:
            raise CompError(f"{flag} must be {self.interval.describe(number)}. Received: {flag}={number}")
        return number


FOLDS = Number(Interval(Integral, 1, 100))
FOLD = Number(Interval(Integral, 0, 99))
SEEDS = Number(Interval(Integral, 1, 100))
FRACTION = Number(Interval(Real, 0, 1, closed="neither"))

competition_option = click.option("--competition", "-c", "competition_ref", default=DEFAULT_COMPETITION,
                                  show_default=True,
                                  help="Competition spec: a name from competition/ or a path to a TOML file.")
subset_option = click.option(
    "--subset", type=Number(Interval(Integral, 0, 10_000_000)), default=0, metavar="N",
    help="Train on at most N images per class (a seeded, stratified draw) and skip the test set: quick comparisons.")
data_option = click.option("--data", type=click.Path(path_type=Path), default=None,
                           help="Use this data folder instead of the spec's data.root.")
executor_option = click.option(
    "--executor", type=click.Choice(EXECUTORS), default="process", show_default=True,
    help="process: one subprocess per fold; inline: all folds in this process; ray: a Ray cluster.")
gpus_option = click.option("--gpus", default=None, help="Comma-separated GPU ids; one fold runs on each at a time.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No per-epoch lines.")
tta_level_option = click.option("--tta-level", type=click.Choice(TTA_LEVELS), default=None,
                                help="TTA views (default: the recipe's, at least flip).")
tta_share_option = click.option(
    "--tta-share", type=Number(Interval(Real, 0, 1)), default=None, metavar="SHARE",
    help="Selective TTA: the level's extra views only for this share of the test images the plain view is "
         "least sure of (default: the recipe's predict.tta_share; 1 = every image, 0 = the plain view only).")


def gpu_list(gpus: str | None) -> list[str] | None:
    """``--gpus 0,1`` -> ["0", "1"], checked against the visible GPUs; None or empty: no GPU list."""
    ids = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else None
    if not ids:
        return None
    from comp.train.devices import check_gpu_ids  # imports TensorFlow: only when GPUs are named

    return check_gpu_ids(ids)


def keras_verbosity(quiet: bool) -> int:
    """Keras' fit verbosity: 0 with --quiet, a progress bar on a terminal, one line per epoch otherwise."""
    return 0 if quiet else (1 if sys.stderr.isatty() else 2)
