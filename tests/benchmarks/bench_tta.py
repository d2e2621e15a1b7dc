"""TTA benchmark: a trained fold's validation accuracy at every TTA level, and what each costs;
then, at the run's level, selective TTA at each share of ``--shares`` (``predict.tta_share``).

Loads fold ``--fold`` of run ``--run`` (default: the competition's latest), predicts its
validation images at each level of comp.predict.tta.TTA_LEVELS and prints a table (level, views,
accuracy, log loss, seconds); then a second table at the run's ``predict.tta`` (share, images
sent through the extra views, accuracy, log loss, seconds). One warm-up prediction first, so
that no row pays for tracing the model. Both tables are saved as JSON under runs/bench/.

    python -m tests.benchmarks.bench_tta --competition dacon-cifar10 --run fast-5f-fcda51 --shares 1,0.5,0.25,0.1,0
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from comp import metrics
from comp.files.atomic import write_json
from comp.predict.probs import load_model, predict_proba, unsure_count
from comp.predict.tta import TTA_LEVELS, tta_views
from comp.runs.listing import latest_run
from comp.runs.run import open_run
from comp.config.spec import load_competition
from comp.train.kfold import load_fold


def shares_arg(text: str) -> list[float]:
    shares = [float(s) for s in text.split(",") if s.strip()]
    if not shares or any(not 0 <= s <= 1 for s in shares):
        raise argparse.ArgumentTypeError(f"shares must be numbers in [0, 1], comma-separated. Received: {text!r}")
    return shares


def timed_row(model, data, level: str, batch_size: int, share: float = 1.0) -> dict:
    start = time.perf_counter()
    probs = predict_proba(model, data.x_val, level, batch_size, share=share)
    seconds = round(time.perf_counter() - start, 2)
    return {"accuracy": metrics.score("accuracy", data.y_val, probs),
            "log_loss": metrics.score("log_loss", data.y_val, probs), "seconds": seconds}


def share_rows(model, data, level: str, batch_size: int, shares: list[float]) -> list[dict]:
    """Selective TTA at ``level``: one row per share, with the images its extra views predicted."""
    n_views = len(tta_views(level))
    rows = []
    for share in shares:
        extra = 0 if n_views == 1 else len(data.y_val) if share >= 1 else unsure_count(len(data.y_val), share)
        rows.append({"tta": level, "share": share, "extra_view_images": extra,
                     **timed_row(model, data, level, batch_size, share)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--competition", default="dacon-cifar10")
    ap.add_argument("--run", default=None)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--shares", type=shares_arg, default=[1.0, 0.5, 0.25, 0.1, 0.0],
                    help="selective-TTA shares at the run's level, comma-separated (default 1,0.5,0.25,0.1,0)")
    args = ap.parse_args()

    competition = load_competition(args.competition)
    run = open_run(competition.name, args.run) if args.run else latest_run(competition.name)
    data = load_fold(run, args.fold)
    model = load_model(run.fold_dir(args.fold) / "model.keras")
    bs, level = run.recipe.predict.batch_size, run.recipe.predict.tta
    predict_proba(model, data.x_val[:bs], "none", bs)  # warm-up: the model's predict function traced
    rows = [{"tta": lv, "views": len(tta_views(lv)), **timed_row(model, data, lv, bs)} for lv in TTA_LEVELS]
    shares = share_rows(model, data, level, bs, args.shares)
    out = Path("runs/bench") / f"tta-levels-{run.id}-fold{args.fold}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, {"run": str(run.dir), "fold": args.fold, "n_val": int(len(data.y_val)), "levels": rows,
                     "shares": shares})
    fmt = lambda v: f"{v:.4f}"  # noqa: E731
    print(pd.DataFrame(rows).to_string(index=False, float_format=fmt))
    print(f"\nselective TTA at {level} ({len(tta_views(level))} views):")
    print(pd.DataFrame(shares).to_string(index=False, float_format=fmt))
    print(f"run {run.id} fold {args.fold}: {len(data.y_val)} validation images | saved {out}")


if __name__ == "__main__":
    main()
