"""TTA benchmark: a trained fold's validation accuracy at every TTA level, and what each costs.

Loads fold ``--fold`` of run ``--run`` (default: the competition's latest), predicts its
validation images at each level of comp.predict.tta.TTA_LEVELS and prints a table (level, views,
accuracy, log loss, seconds); saves it as JSON under runs/bench/.

    python -m tests.benchmarks.bench_tta --competition dacon-cifar10 --run fast-5f-fcda51
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from comp import metrics
from comp.files.atomic import write_json
from comp.predict.probs import load_model, predict_proba
from comp.predict.tta import TTA_LEVELS, tta_views
from comp.runs.run import latest_run, open_run
from comp.config.spec import load_competition
from comp.train.kfold import load_fold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--competition", default="dacon-cifar10")
    ap.add_argument("--run", default=None)
    ap.add_argument("--fold", type=int, default=0)
    args = ap.parse_args()

    competition = load_competition(args.competition)
    run = open_run(competition.name, args.run) if args.run else latest_run(competition.name)
    data = load_fold(run, args.fold)
    model = load_model(run.fold_dir(args.fold) / "model.keras")
    rows = []
    for level in TTA_LEVELS:
        start = time.perf_counter()
        probs = predict_proba(model, data.x_val, level, run.recipe.predict.batch_size)
        rows.append({"tta": level, "views": len(tta_views(level)), "accuracy": metrics.score("accuracy", data.y_val, probs),
                     "log_loss": metrics.score("log_loss", data.y_val, probs),
                     "seconds": round(time.perf_counter() - start, 1)})
    table = pd.DataFrame(rows)
    out = Path("runs/bench") / f"tta-levels-{run.id}-fold{args.fold}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, {"run": str(run.dir), "fold": args.fold, "n_val": int(len(data.y_val)), "levels": rows})
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"run {run.id} fold {args.fold}: {len(data.y_val)} validation images | saved {out}")


if __name__ == "__main__":
    main()
