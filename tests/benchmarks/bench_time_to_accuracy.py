"""Time-to-accuracy benchmark: one fold of the real data, validation accuracy after every epoch.

Trains fold ``--fold`` of a ``--folds``-fold split of ``--competition`` with ``--recipe`` (a
normal comp run under runs/<competition>/, so it resumes if interrupted), then prints the
curve: epoch, cumulative wall seconds, validation accuracy (no TTA), and the final
out-of-fold accuracy with the recipe's TTA. Saves the table as JSON under runs/bench/.

    python -m tests.benchmarks.bench_time_to_accuracy --recipe fast [--set train.epochs=8]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from comp.train.request import TrainRequest
from comp.train.runner import train_run
from comp.files.atomic import write_json
from comp.config.recipe import load_recipe
from comp.config.spec import load_competition


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--competition", default="dacon-cifar10")
    ap.add_argument("--recipe", default="fast")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--run", default=None)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    args = ap.parse_args()

    competition = load_competition(args.competition)
    recipe = load_recipe(args.recipe, args.overrides)
    request = TrainRequest(competition, args.recipe, args.overrides, n_folds=args.folds, folds=[args.fold],
                           run_id=args.run, executor="inline", verbose=2, say=print)
    run = train_run(request)[0].run
    hist = pd.read_csv(run.fold_dir(args.fold) / "history.csv")
    final = json.loads((run.fold_dir(args.fold) / "metrics.json").read_text())
    curve = pd.DataFrame({"epoch": hist["epoch"] + 1, "seconds": hist["seconds"].cumsum().round(0),
                          "val_accuracy": hist["val_accuracy"].round(4), "train_loss": hist["loss"].round(4)})
    out = Path("runs/bench") / f"tta-{competition.name}-{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, {"run": str(run.dir), "fold": args.fold, "overrides": args.overrides,
                     "curve": curve.to_dict("records"), "final": final})
    print(curve.to_string(index=False))
    print(f"{recipe.name} fold {args.fold}/{args.folds}: accuracy {final['accuracy']:.4f} with TTA {final['tta']} "
          f"after {final['seconds']:.0f} s ({final['epochs']} epochs, {final['n_train']} train / "
          f"{final['n_val']} val) | saved {out}")


if __name__ == "__main__":
    main()
