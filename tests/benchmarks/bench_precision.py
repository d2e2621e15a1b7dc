"""Precision benchmark: training and inference speed of a recipe's model per precision policy.

Builds the recipe's model once per policy (``float32`` first: the baseline) in one process,
warms each up for an epoch, then times ``--rounds`` alternating training epochs over the same
in-memory images (and one inference pass). The last line is ``ratio <policy/float32>`` for
training, for the policy that ``train.precision = "auto"`` picks on this machine (or
``--policy``). On CPUs with AMX tiles, ``auto`` picks ``mixed_bfloat16``.

    python -m tests.benchmarks.bench_precision [--recipe fast] [--images 4096]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from comp.tf_quiet import keras
from comp.files.atomic import write_json
from comp.models import create_model
from comp.config.recipe import load_recipe
from comp.train.devices import setup_devices
from comp.train.optim import make_optimizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="fast")
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--policy", default=None, help="policy to compare against float32 (default: what auto picks)")
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    args = ap.parse_args()

    recipe = load_recipe(args.recipe, args.overrides)
    auto = setup_devices(recipe.train)
    policy = args.policy or auto.policy
    if policy == "float32":
        raise SystemExit(f"error: {auto.describe()}: auto picks float32 here; pass --policy mixed_bfloat16 to compare")
    rng = np.random.default_rng(0)
    bs = recipe.train.batch_size
    steps = max(args.images // bs, 1)
    n = steps * bs
    x = rng.integers(0, 256, (n, 32, 32, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]

    models = {}
    for name in ("float32", policy):
        keras.mixed_precision.set_global_policy(name)
        keras.utils.set_random_seed(0)
        m = create_model(recipe.model_name, x.shape[1:], 10, **recipe.model_options)
        m.compile(optimizer=make_optimizer(recipe.train, steps),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=auto.jit_compile)
        m.fit(x[:bs], y[:bs], batch_size=bs, epochs=1, verbose=0)  # warm-up: tracing, oneDNN primitives
        m.predict(x[:bs], batch_size=bs, verbose=0)
        models[name] = m

    def train_speed(name):
        t = time.perf_counter()
        models[name].fit(x, y, batch_size=bs, epochs=1, verbose=0, shuffle=False)
        return n / (time.perf_counter() - t)

    def predict_speed(name):
        t = time.perf_counter()
        models[name].predict(x, batch_size=recipe.predict.batch_size, verbose=0)
        return n / (time.perf_counter() - t)

    train = {name: [] for name in models}
    for _ in range(args.rounds):
        for name in models:
            train[name].append(train_speed(name))
    infer = {name: predict_speed(name) for name in models}
    ratio = statistics.median(train[policy]) / statistics.median(train["float32"])
    result = {"recipe": recipe.name, "model": recipe.model_name, "model_options": recipe.model_options,
              "batch_size": bs, "images": n, "devices": auto.describe(),
              "train_img_s": {k: [round(v, 1) for v in vs] for k, vs in train.items()},
              "predict_img_s": {k: round(v, 1) for k, v in infer.items()},
              "ratio": ratio, "predict_ratio": infer[policy] / infer["float32"]}
    out = Path("runs/bench") / f"precision-{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, result)
    print(f"{'policy':<16}{'train img/s':>13}{'predict img/s':>15}   train epochs (img/s)")
    for name in models:
        print(f"{name:<16}{statistics.median(train[name]):>13.1f}{infer[name]:>15.1f}   "
              f"{', '.join(f'{v:.1f}' for v in train[name])}")
    print(f"{auto.describe()} (auto) | {recipe.name}: batch {bs}, {n} images | saved {out}")
    print(f"predict ratio {result['predict_ratio']:.3f}")
    print(f"ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
