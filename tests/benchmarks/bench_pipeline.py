"""Pipeline benchmark: does the input pipeline keep the model fed?

Trains the same model with the same batch size two ways, in one process:

- *bare*: ``model.fit`` on in-memory float32 tensors (no augmentation at all);
- *pipeline*: comp's training input pipeline with the recipe's augmentation (by default
  ``vgg-mixup``: the ``heavy`` albumentations preset and mixup).

Each is warmed up for one epoch, then timed over ``--rounds`` alternating epochs; the median
images/second of each is compared. The last line is ``ratio <pipeline/bare>``.

    python -m tests.benchmarks.bench_pipeline [--recipe vgg-mixup] [--images 2048]
"""

from __future__ import annotations

import argparse
import json
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
from comp.train.pipeline import train_dataset


def load_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Real CIFAR-10 images from the decode cache when present, else random ones."""
    cache = Path("data/.cache/dacon-cifar10/train-32x32.npy")
    rng = np.random.default_rng(seed)
    if cache.is_file():
        x = np.load(cache, mmap_mode="r")
        idx = np.sort(rng.choice(len(x), n, replace=False))
        return np.asarray(x[idx]), rng.integers(0, 10, n), "CIFAR-10 cache"
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n), "random"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="vgg-mixup")
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    args = ap.parse_args()

    recipe = load_recipe(args.recipe, args.overrides)
    setup = setup_devices(recipe.train)
    x, y, source = load_images(args.images)
    bs = recipe.train.batch_size
    steps = len(x) // bs
    n = steps * bs

    def build():
        keras.utils.set_random_seed(0)
        m = create_model(recipe.model_name, x.shape[1:], 10, **recipe.model_options)
        m.compile(optimizer=make_optimizer(recipe.train, steps),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  jit_compile=setup.jit_compile, steps_per_execution=recipe.train.steps_per_execution)
        return m

    bare_model, pipe_model = build(), build()
    xf = x[:n].astype(np.float32)
    yf = np.eye(10, dtype=np.float32)[y[:n]]
    pipe_ds = train_dataset(x, y, recipe, 10, bs)

    def epoch_bare():
        t = time.perf_counter()
        bare_model.fit(xf, yf, batch_size=bs, epochs=1, verbose=0, shuffle=True)
        return n / (time.perf_counter() - t)

    def epoch_pipe():
        t = time.perf_counter()
        pipe_model.fit(pipe_ds, steps_per_epoch=steps, epochs=1, verbose=0)
        return n / (time.perf_counter() - t)

    epoch_bare(), epoch_pipe()  # warm-up: tracing, autotune, oneDNN primitive caches
    bare, pipe = [], []
    for _ in range(args.rounds):
        bare.append(epoch_bare())
        pipe.append(epoch_pipe())
    result = {
        "recipe": recipe.name, "model": recipe.model_name, "preset": recipe.augment.preset,
        "mixup_alpha": recipe.augment.mixup_alpha, "cutmix_alpha": recipe.augment.cutmix_alpha,
        "batch_size": bs, "images": n, "source": source, "devices": setup.describe(),
        "bare_img_s": [round(v, 1) for v in bare], "pipeline_img_s": [round(v, 1) for v in pipe],
        "ratio": statistics.median(pipe) / statistics.median(bare),
    }
    out = Path("runs/bench") / f"pipeline-{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, result)
    print(f"{'setting':<14}{'median img/s':>14}   epochs (img/s)")
    print(f"{'bare fit':<14}{statistics.median(bare):>14.1f}   {', '.join(f'{v:.1f}' for v in bare)}")
    print(f"{'pipeline':<14}{statistics.median(pipe):>14.1f}   {', '.join(f'{v:.1f}' for v in pipe)}")
    print(f"{setup.describe()} | {recipe.name}: preset {recipe.augment.preset}, mixup {recipe.augment.mixup_alpha}, "
          f"batch {bs}, {n} {source} images | saved {out}")
    print(f"ratio {result['ratio']:.3f}")


if __name__ == "__main__":
    main()
