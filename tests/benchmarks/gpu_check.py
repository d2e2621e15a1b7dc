"""GPU self-check (`make gpu-check`, under 5 minutes on one GPU): what a GPU machine gives comp.

1. the devices, precision policy and XLA setting a fold uses;
2. training images/s of ``fast`` at 32 px on the in-memory and the streaming path (their
   ratio), and the share of each step the GPU waited for input: one minus the ratio of the
   real pipeline's throughput to that of one cached batch repeated (no input work at all);
3. the same two figures for the ``large`` recipe at 224 px;
4. one fold of ``fast`` on dacon-cifar10 (its recipe, 5-fold split, fold 0): accuracy and seconds;
5. one epoch of ``large`` on the 224-px competition (cifar10-224, built from dacon-cifar10
   on first use): seconds and images/s.

It writes JSON to runs/bench/gpu-check-<time>.json and prints a table. Without a GPU it says
so and exits 2 (``--allow-cpu`` runs it anyway, for a smoke test with small ``--steps``).

    python -m tests.benchmarks.gpu_check [--small dacon-cifar10] [--large cifar10-224] [--steps 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from comp.files.atomic import write_json
from comp.data.demo import ensure_data
from comp.data.folds import FoldData, make_folds, split_fold
from comp.data.images import load_competition_images
from comp.data.layouts import read_dataset
from comp.config.recipe import load_recipe
from comp.config.spec import load_competition
from comp.train.devices import setup_devices
from comp.train.fold import FoldTrainer
from comp.train.request import TrainRequest
from comp.train.runner import train_run
from comp.train.pipeline import train_dataset


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", default="dacon-cifar10", help="32-px competition for fast (default: %(default)s)")
    ap.add_argument("--large", default="cifar10-224", help="224-px competition for large (default: %(default)s)")
    ap.add_argument("--small-recipe", default="fast")
    ap.add_argument("--large-recipe", default="large")
    ap.add_argument("--steps", type=int, default=60, help="timed steps per throughput figure (default: %(default)s)")
    ap.add_argument("--set-small", action="append", default=[], help="--set override for the small recipe")
    ap.add_argument("--set-large", action="append", default=[], help="--set override for the large recipe")
    ap.add_argument("--allow-cpu", action="store_true", help="run without a GPU (a smoke test)")
    ap.add_argument("--out", default="runs/bench", help="folder of the JSON (default: %(default)s)")
    return ap.parse_args(argv)


def fold_zero(competition, recipe) -> FoldData:
    """Fold 0 of a 5-fold split of the competition's training set, streamed from its cache."""
    ensure_data(competition)  # builds cifar10-224 from dacon-cifar10 on first use
    dataset = read_dataset(competition)
    x, _ = load_competition_images(competition, dataset)
    fold_of_row = make_folds(dataset.labels, 5, recipe.train.seed)  # the split `comp train --folds 5` makes
    return split_fold(fold_of_row, 0, x, dataset.labels, None, len(dataset.class_names), competition.metric,
                      competition.name, stream=True)


def images_per_second(recipe, data: FoldData, path: str, steps: int, synthetic: bool = False) -> float:
    """Training images/s over ``steps`` steps (after a first pass that compiles)."""
    x = data.x_train if path == "stream" else np.asarray(data.x_train[: steps * recipe.train.batch_size * 2])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = FoldTrainer(recipe, data, Path(tmp), verbose=0)
        model = trainer.build_model()
        trainer.compile_phase(recipe.train)
        ds = train_dataset(x, data.y_train[: len(x)], recipe, data.num_classes, trainer.batch_size)
        if synthetic:
            ds = ds.take(1).cache().repeat()
        model.fit(ds, steps_per_epoch=max(2, steps // 4), epochs=1, verbose=0, shuffle=False)  # compile and warm up
        start = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        return steps * trainer.batch_size / (time.perf_counter() - start)


def pipeline_figures(recipe, data: FoldData, steps: int) -> dict:
    memory = images_per_second(recipe, data, "memory", steps)
    stream = images_per_second(recipe, data, "stream", steps)
    bare = images_per_second(recipe, data, "stream", steps, synthetic=True)
    return {"memory_img_s": round(memory, 1), "stream_img_s": round(stream, 1), "bare_img_s": round(bare, 1),
            "stream_over_memory": round(stream / memory, 3), "input_wait_share": round(max(0.0, 1 - stream / bare), 3)}


def train_one(competition, recipe_ref: str, overrides: list[str], run_id: str) -> dict:
    """Fold 0 of a 5-fold run from scratch; its metrics.json and history."""
    request = TrainRequest(competition, recipe_ref, list(overrides), n_folds=5, folds=[0], run_id=run_id,
                           restart=True, executor="inline", verbose=2, say=print)
    run = train_run(request)[0].run
    hist = pd.read_csv(run.fold_dir(0) / "history.csv")
    metrics = run.fold_metrics(0)
    return {"run": str(run.dir), "score": metrics["score"], "seconds": metrics["seconds"],
            "epochs": metrics["epochs"], "train_img_s": round(metrics["n_train"] / float(hist["seconds"].median()), 1)}


def main(argv=None) -> int:
    args = parse_args(argv)
    small, large = load_competition(args.small), load_competition(args.large)
    small_recipe = load_recipe(args.small_recipe, args.set_small, small)
    large_recipe = load_recipe(args.large_recipe, args.set_large, large)
    setup = setup_devices(small_recipe.train)
    if not any("GPU" in d for d in setup.devices) and not args.allow_cpu:
        print(f"gpu-check: no GPU visible ({setup.describe()}); run it on a GPU machine "
              f"(--allow-cpu for a smoke test)", file=sys.stderr)
        return 2
    report = {"devices": setup.devices, "precision": setup.policy, "xla": setup.jit_compile}
    print(setup.describe(), flush=True)
    report[f"pipeline_{small.name}"] = pipeline_figures(small_recipe, fold_zero(small, small_recipe), args.steps)
    report[f"pipeline_{large.name}"] = pipeline_figures(large_recipe, fold_zero(large, large_recipe), args.steps)
    report["fold_fast"] = train_one(small, args.small_recipe, args.set_small, "gpu-check-fast")
    report["epoch_large"] = train_one(large, args.large_recipe, [*args.set_large, "train.epochs=1"], "gpu-check-large")
    out = Path(args.out) / f"gpu-check-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, report)
    rows = [(k, v) for k, v in report.items() if isinstance(v, dict)]
    print(pd.DataFrame({k: pd.Series(v) for k, v in rows}).T.to_string())
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
