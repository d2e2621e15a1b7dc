"""Technique ablations on a stratified subset of a competition's training data.

Every trial trains the same recipe on the same subset (``--train`` images, validated on
``--val`` others, both stratified, fixed split) for the same number of epochs, with its own
``--set`` overrides on top of the shared ones; the table gives validation accuracy (no TTA)
and wall seconds per trial. JSON lines go to runs/bench/ablate-<recipe>-<time>.jsonl as
each trial ends, so an interrupted sweep keeps what it measured.

    python -m tests.benchmarks.bench_ablate --recipe fast --train 10000 --epochs 3 \\
        --trial baseline --trial "offset64:train.offset_lr_scale=64" \\
        --trial "gelu:train.offset_lr_scale=64,model.activation=gelu"
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from comp.tf_quiet import keras
from comp.data.folds import FoldData
from comp.data.images import load_competition_images
from comp.train.fold import train_fold
from comp.data.layouts import read_dataset
from comp.config.recipe import load_recipe
from comp.config.spec import load_competition


def parse_trial(text: str) -> tuple[str, list[str]]:
    name, _, sets = text.partition(":")
    return name, [s for s in sets.split(",") if s]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--competition", default="dacon-cifar10")
    ap.add_argument("--recipe", default="fast")
    ap.add_argument("--train", type=int, default=10000, help="training images in the subset")
    ap.add_argument("--val", type=int, default=5000, help="validation images (disjoint from --train)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="shared by every trial")
    ap.add_argument("--trial", action="append", default=[], help="NAME[:key=value,key=value]")
    args = ap.parse_args()

    competition = load_competition(args.competition)
    dataset = read_dataset(competition)
    base = load_recipe(args.recipe, args.overrides)
    x_all, _ = load_competition_images(competition, dataset)
    labels = dataset.labels
    idx = np.arange(len(labels))
    tr, va = train_test_split(idx, train_size=args.train, test_size=args.val, stratify=labels,
                              random_state=0)
    tr.sort(), va.sort()
    data = FoldData(np.asarray(x_all[tr]), labels[tr], np.asarray(x_all[va]), labels[va],
                             None, len(dataset.class_names), "accuracy")
    out = Path("runs/bench") / f"ablate-{base.name}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, sets in map(parse_trial, args.trial or ["baseline"]):
        recipe = load_recipe(args.recipe, [*args.overrides, f"train.epochs={args.epochs}", "predict.tta=none", *sets])
        work = Path(tempfile.mkdtemp(prefix=f"ablate-{name}-"))
        start = time.perf_counter()
        try:
            result = train_fold(recipe, data, work / "fold", verbose=2)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            keras.backend.clear_session()
        row = {"trial": name, "sets": " ".join(sets), "accuracy": round(result["accuracy"], 4),
               "seconds": round(time.perf_counter() - start)}
        rows.append(row)
        with out.open("a") as f:
            f.write(json.dumps({**row, "train": args.train, "val": args.val, "epochs": args.epochs,
                                "shared": args.overrides}) + "\n")
        print(json.dumps(row), flush=True)
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"{len(rows)} trials, {args.train} train / {args.val} val, {args.epochs} epochs | saved {out}")


if __name__ == "__main__":
    main()
