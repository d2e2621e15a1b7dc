"""Scale benchmark: what larger inputs cost, from the build to the prediction.

For each size in ``--sizes`` (32 is ``dacon-cifar10`` itself, drawn with ``--subset``, under
the name ``dacon-cifar10-bench``; any other size is Dacon's CIFAR-10 upscaled by the
``upscaled-cifar10`` builder):

a. builds the data (``n_train`` training and ``n_test`` test images; skipped when the folder
   already holds that build) and reports the build seconds;
b. decodes the training split into the decode cache (``data/.cache/<competition>/``) from
   cold and reports images/s (the test split is decoded too, timed apart, so that training
   does not);
c. trains fold 0 of ``--folds`` (``comp train --fold 0`` as a subprocess) once per
   ``--pipelines`` entry: ``memory`` and ``stream`` (``--set train.pipeline=...``) and
   ``auto`` (no key: the recipe's default). While it trains, the peak anonymous memory
   (``RssAnon`` of ``comp train`` and its fold subprocess, polled every 0.2 s) is recorded
   beside the size of the cache files. Training images/s is the fold's training images over
   the last epoch's ``seconds`` in history.csv (EpochTimer: the whole epoch, validation
   included; with ``--epochs 1`` it includes graph tracing too, so pass ``--epochs 2`` for a
   steady-state number). Prediction images/s: the fold's model over the test images
   (``tta=none``, in a subprocess, after one warm-up batch);
d. prints a table, the stream / memory training-throughput ratio per size, and writes
   ``runs/bench/bench-scale-<timestamp>.json``.

A build of all the source images goes to the spec's folder (``data/cifar10-128``, ...); a
subset build to ``data/cifar10-<size>-<n_train>-<n_test>``, with its own competition name
(cache and runs apart), so that a spec's folder never holds part of the data by surprise.

    python -m tests.benchmarks.bench_scale [--sizes 32,128,224] [--n-train 25000] [--epochs 1]
    python -m tests.benchmarks.bench_scale --sizes 64 --n-train 600 --n-test 200 --data-root data/cifar10-64-bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

DEFAULT_SETS = ["model.widths=[16,32,64]", "predict.tta=none"]
PIPELINES = ("memory", "stream", "auto")
BENCH_DIR = Path("runs") / "bench"
SOURCE_COUNTS = (50_000, 10_000)  # Dacon's CIFAR-10
PIXELS_PER_BATCH = 1024 * 64 * 64  # batch 512 at 90 px, 64 at 224 (see batch_sets)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32,128,224",
                    help="comma-separated image sizes; 32 = dacon-cifar10 itself (default: %(default)s)")
    ap.add_argument("--n-train", type=int, default=25_000,
                    help="training images built (and drawn at 32 px; default: %(default)s)")
    ap.add_argument("--n-test", type=int, default=5_000,
                    help="test images built (the fold predicts them; default: %(default)s)")
    ap.add_argument("--data-root", default=None,
                    help="folder pattern for the built data, with {size} {n_train} {n_test} (default: the spec's "
                         "data/cifar10-{size} for a full build, else data/cifar10-{size}-{n_train}-{n_test})")
    ap.add_argument("--pipelines", default=",".join(PIPELINES),
                    help="train.pipeline values to train with; auto = no key (default: %(default)s)")
    ap.add_argument("--recipe", default="fast", help="recipe name or TOML path (default: %(default)s)")
    ap.add_argument("--model", default=None,
                    help="model name (--set model.name=...), e.g. resnet18 once it exists; pass --set for its "
                         "options (the default sets are for fast)")
    ap.add_argument("--epochs", type=int, default=1,
                    help="train.epochs of the fold (default: %(default)s; 2 for a steady-state epoch)")
    ap.add_argument("--folds", type=int, default=5, help="folds of the split; fold 0 is trained (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="train.batch_size at every size (default: the recipe's, lowered at large sizes so that a "
                         "batch's activations fit: 256 at 128 px, 64 at 224 px with the default sets)")
    ap.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY=VALUE",
                    help=f"recipe overrides for every fold (repeatable; replaces the default: "
                         f"{' '.join(DEFAULT_SETS)})")
    ap.add_argument("--warm", action="store_true", help="keep an existing decode cache (default: decode from cold)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds before a fold's training is stopped")
    ap.add_argument("--predict-only", metavar="RUN_DIR", help=argparse.SUPPRESS)  # the prediction subprocess
    args = ap.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.pipelines = [p for p in args.pipelines.split(",") if p]
    unknown = sorted(set(args.pipelines) - set(PIPELINES))
    if unknown:
        ap.error(f"--pipelines: unknown {unknown}; choose from {', '.join(PIPELINES)}")
    if args.overrides is None:
        args.overrides = list(DEFAULT_SETS)
    return args


# --------------------------------------------------------------------------- a. data


def write_spec(name: str, root: Path, size: int, builder: str | None) -> str:
    """A competition spec of the benchmark's own, in runs/bench/specs/ (its cache and runs apart)."""
    spec = BENCH_DIR / "specs" / f"{name}.toml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    build_line = f'builder = "{builder}"\n' if builder else ""
    spec.write_text(f'# written by tests/benchmarks/bench_scale.py\nname = "{name}"\nmetric = "accuracy"\n\n'
                    f'[data]\nroot = "{root}"\n{build_line}layout = "class-folders"\n'
                    f'sample_submission = "sample_submission.csv"\nimage_size = [{size}, {size}]\n\n'
                    f'[rules]\npretrained_weights = false\nexternal_data = false\n')
    return str(spec)


def competition_for(size: int, args) -> tuple[str, int]:
    """(competition spec path, --subset per class) for one size.

    32 px: data/dacon-cifar10 under the name ``dacon-cifar10-bench``, so that its runs are not
    the latest runs of dacon-cifar10 (what ``comp predict`` picks by default).
    """
    if size == 32:
        return write_spec("dacon-cifar10-bench", Path("data/dacon-cifar10"), 32, None), args.n_train // 10
    full = (args.n_train, args.n_test) == SOURCE_COUNTS
    shipped = Path("competition") / f"cifar10-{size}.toml"
    if full and shipped.is_file() and args.data_root is None:
        return str(shipped), 0
    pattern = args.data_root or ("data/cifar10-{size}" if full else "data/cifar10-{size}-{n_train}-{n_test}")
    root = Path(pattern.format(size=size, n_train=args.n_train, n_test=args.n_test))
    return write_spec(root.name, root, size, "upscaled-cifar10"), 0


def build(spec: str, args) -> dict:
    """Build the spec's data unless its folder holds this build already; the build's record and seconds."""
    from comp.data.upscaled import build_upscaled_cifar10, read_record
    from comp.config.spec import load_competition

    competition = load_competition(spec)
    record = read_record(competition.root)
    wanted = {"n_train": args.n_train, "n_test": args.n_test, "image_size": list(competition.data.image_size)}
    if record is not None:
        have = {k: record.get(k) for k in wanted}
        if have != wanted:
            raise SystemExit(f"{competition.root} holds another build ({have}, not {wanted}): "
                             f"pass --data-root to build elsewhere, or remove the folder")
        return {**record, "built_now": False}
    if competition.root.exists():
        raise SystemExit(f"{competition.root} exists without a build.json: pass --data-root to build elsewhere")
    full = (args.n_train, args.n_test) == SOURCE_COUNTS
    start = time.perf_counter()
    record = build_upscaled_cifar10(competition.root, competition.data.image_size,
                                    n_train=None if full else args.n_train, n_test=None if full else args.n_test)
    return {**record, "built_now": True, "seconds": round(time.perf_counter() - start, 1)}


# --------------------------------------------------------------------------- b. decode


def decode(spec: str, subset: int, cold: bool, seed: int) -> dict:
    """Decode the training split (then the test one) into the competition's cache; seconds and images/s."""
    from comp.data.images import CACHE_DIR, load_images
    from comp.data.layouts import read_dataset, subset_dataset
    from comp.files.locks import hold
    from comp.config.spec import load_competition

    competition = load_competition(spec)
    dataset = read_dataset(competition)
    if subset:  # the draw comp train --subset makes (the recipe's seed)
        dataset = subset_dataset(dataset, subset, seed)
    size, cache = tuple(competition.data.image_size), CACHE_DIR / competition.name
    out = {"competition": competition.name, "root": str(competition.root), "n_images": len(dataset.train)}
    splits = [("train-subset%d" % subset if subset else "train", dataset.train)]
    if not subset:  # a --subset run has no test set
        splits.append(("test", dataset.test))
    for name, table in splits:
        npy = cache / f"{name}-{size[0]}x{size[1]}.npy"
        if cold:  # under the lock comp.data.images.load_images takes for this cache file
            with hold(cache.parent / f".{cache.name}-{npy.stem}.lock", f"the decode cache {npy}", "written", wait=True):
                npy.unlink(missing_ok=True)
                npy.with_suffix(".json").unlink(missing_ok=True)
        start = time.perf_counter()
        x = load_images(table["path"].tolist(), size, cache, name)
        seconds = time.perf_counter() - start
        out[name.split("-")[0]] = {"images": len(x), "seconds": round(seconds, 2), "cold": cold,
                                   "images_per_s": round(len(x) / seconds, 1), "cache_bytes": npy.stat().st_size}
    out["cache_bytes"] = sum(v["cache_bytes"] for k, v in out.items() if isinstance(v, dict))
    return out


# --------------------------------------------------------------------------- c. training


def rss_anon(pid: int) -> int:
    """RssAnon of a process in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class MemoryPoll(threading.Thread):
    """Peak RssAnon of a process tree, polled every ``every`` seconds: the tree's sum and the largest process."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.stop = pid, every, threading.Event()
        self.peak_tree = self.peak_process = 0

    def run(self) -> None:
        while not self.stop.is_set():
            sizes = [rss_anon(p) for p in descendants(self.pid)]
            self.peak_tree = max(self.peak_tree, sum(sizes))
            self.peak_process = max(self.peak_process, max(sizes, default=0))
            self.stop.wait(self.every)


def batch_sets(size: int, args) -> list[str]:
    """Batch sizes for this size: ``--batch-size``, else the recipe's, lowered so that a batch
    holds at most PIXELS_PER_BATCH pixels (the activations of a 224-px batch of 512 need about
    23 GiB: 1 KB per pixel of each image with fast at widths [16,32,64], measured at 32 and
    64 px); a lowered batch gets a proportionally lower train.lr."""
    from comp.config.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    batch = args.batch_size or min(recipe.train.batch_size, 2 ** int(np.log2(max(1, PIXELS_PER_BATCH // size**2))))
    if batch == recipe.train.batch_size:
        return []
    sets = [f"train.batch_size={batch}", f"predict.batch_size={min(recipe.predict.batch_size, 2 * batch)}"]
    if not any(o.startswith("train.lr=") for o in args.overrides):
        sets.append(f"train.lr={recipe.train.lr * batch / recipe.train.batch_size:.4g}")
    return sets


def train_command(spec: str, subset: int, pipeline: str, run_id: str, args, size: int) -> list[str]:
    sets = [*args.overrides, f"train.epochs={args.epochs}"]
    if args.model:
        sets.append(f"model.name={args.model}")
    sets += batch_sets(size, args)
    if pipeline != "auto":
        sets.append(f"train.pipeline={pipeline}")
    cmd = [sys.executable, "-m", "comp", "train", "--competition", spec, "--recipe", args.recipe,
           "--folds", str(args.folds), "--fold", "0", "--run", run_id, "--restart", "--quiet"]
    cmd += ["--subset", str(subset)] if subset else []
    return cmd + [a for s in sets for a in ("--set", s)]


def train(spec: str, subset: int, pipeline: str, args, log_dir: Path, size: int) -> dict:
    """One fold's training: peak memory, epoch seconds, images/s, and the run folder."""
    import pandas as pd

    cmd = train_command(spec, subset, pipeline, f"bench-scale-{pipeline}", args, size)
    log = log_dir / f"{Path(spec).stem}-{pipeline}.log"
    start = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        poll = MemoryPoll(proc.pid)
        poll.start()
        try:
            stdout, _ = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            stdout, _ = proc.communicate()
        poll.stop.set()
        poll.join()
    out = {"pipeline": pipeline, "command": " ".join(cmd), "log": str(log), "returncode": proc.returncode,
           "wall_seconds": round(time.perf_counter() - start, 1),
           "peak_rss_anon_tree": poll.peak_tree, "peak_rss_anon_process": poll.peak_process}
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-3:]
        print(f"  {pipeline}: comp train failed ({proc.returncode}); {log}:\n    " + "\n    ".join(tail), flush=True)
        return out
    fold_dir = Path(stdout.strip().splitlines()[-1]) / "fold-0"
    hist, metrics = pd.read_csv(fold_dir / "history.csv"), json.loads((fold_dir / "metrics.json").read_text())
    last = float(hist["seconds"].iloc[-1])
    out.update(run_dir=str(fold_dir.parent), n_train=metrics["n_train"], n_val=metrics["n_val"],
               epoch_seconds=[float(s) for s in hist["seconds"]], score=metrics["score"],
               train_images_per_s=round(metrics["n_train"] / last, 1),
               finish_seconds=round(metrics["seconds"] - float(hist["seconds"].sum()), 1))
    return out


def predict(run_dir: str) -> dict:
    """Prediction images/s of a run's fold 0 over the test images (tta none): in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_scale", "--predict-only", run_dir],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def predict_only(run_dir: str) -> None:
    """The body of the prediction subprocess: prints one JSON line."""
    from comp.data.images import load_competition_images
    from comp.data.layouts import read_dataset, subset_dataset
    from comp.predict.probs import load_model, predict_proba
    from comp.runs.run import open_run

    run = open_run(Path(run_dir).parent.name, Path(run_dir).name)
    dataset = read_dataset(run.competition)
    if run.subset:  # a subset run has no test set: its subset's images stand in (same size, same model)
        x = load_competition_images(run.competition, subset_dataset(dataset, run.subset, run.recipe.train.seed),
                                    run.subset)[0]
    else:
        x = load_competition_images(run.competition, dataset)[1]
    model, bs = load_model(run.fold_dir(0) / "model.keras"), run.recipe.predict.batch_size
    predict_proba(model, x[:bs], "none", bs)  # warm-up: tracing
    start = time.perf_counter()
    predict_proba(model, x, "none", bs)
    seconds = time.perf_counter() - start
    print(json.dumps({"images": len(x), "seconds": round(seconds, 2), "images_per_s": round(len(x) / seconds, 1)}))


# --------------------------------------------------------------------------- d. report


def mb(n) -> str:
    return f"{n / 2**20:,.0f}" if n else "-"


def table(results: list[dict]) -> str:
    head = ["size", "pipeline", "build s", "decode img/s", "cache MB", "peak RssAnon MB (fold / tree)",
            "epoch s", "train img/s", "predict img/s", "val score"]
    rows = []
    for r in results:
        for t in r["train"]:
            epoch = t.get("epoch_seconds", [None])[-1]
            built = r["build"].get("seconds", "-") if r["build"].get("built_now") else "kept"
            rows.append([str(r["size"]), t["pipeline"], str(built) if r["size"] != 32 else "-",
                         f"{r['decode']['train']['images_per_s']:,.0f}", mb(r["decode"]["cache_bytes"]),
                         f"{mb(t['peak_rss_anon_process'])} / {mb(t['peak_rss_anon_tree'])}",
                         f"{epoch:.1f}" if epoch else "failed", f"{t.get('train_images_per_s', 0):,.0f}",
                         f"{t.get('predict', {}).get('images_per_s', 0):,.0f}", f"{t.get('score', float('nan')):.4f}"])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def ratios(results: list[dict]) -> dict:
    """stream / memory training images/s per size (where both trained)."""
    out = {}
    for r in results:
        speed = {t["pipeline"]: t.get("train_images_per_s") for t in r["train"]}
        if speed.get("stream") and speed.get("memory"):
            out[r["size"]] = round(speed["stream"] / speed["memory"], 3)
    return out


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": os.getloadavg()}


def run_size(size: int, args, log_dir: Path) -> dict:
    spec, subset = competition_for(size, args)
    result = {"size": size, "spec": spec, "subset_per_class": subset, "batch_sets": batch_sets(size, args)}
    if result["batch_sets"]:
        print(f"  {' '.join(result['batch_sets'])} (activation memory; --batch-size to choose)", flush=True)
    result["build"] = build(spec, args) if size != 32 else {"source": "data/dacon-cifar10"}
    if result["build"].get("built_now"):
        print(f"  built {result['build']['n_train']} + {result['build']['n_test']} images in "
              f"{result['build']['seconds']} s", flush=True)
    from comp.config.recipe import load_recipe

    seed = load_recipe(args.recipe, args.overrides).train.seed
    result["decode"] = decode(spec, subset, cold=not args.warm, seed=seed)
    print(f"  decode: {json.dumps(result['decode']['train'])}", flush=True)
    result["train"] = []
    for pipeline in args.pipelines:
        t = train(spec, subset, pipeline, args, log_dir, size)
        if t["returncode"] == 0:
            t["predict"] = predict(t["run_dir"])
        print(f"  {pipeline}: {json.dumps({k: v for k, v in t.items() if k not in ('command', 'log')})}", flush=True)
        result["train"].append(t)
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.predict_only:
        return predict_only(args.predict_only)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = BENCH_DIR / f"bench-scale-{stamp}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    report = {"started": stamp, "machine": machine(), "args": {k: v for k, v in vars(args).items()
                                                               if k != "predict_only"}, "results": []}
    for size in args.sizes:
        print(f"size {size}:", flush=True)
        report["results"].append(run_size(size, args, log_dir))
    report["stream_over_memory"] = ratios(report["results"])
    from comp.files.atomic import write_json

    out = BENCH_DIR / f"bench-scale-{stamp}.json"
    write_json(out, report)
    print("\n" + table(report["results"]))
    for r in report["results"]:
        ratio = report["stream_over_memory"].get(r["size"])
        if {"stream", "memory"} <= set(args.pipelines):
            print(f"stream / memory training images/s at {r['size']} px: "
                  + (f"{ratio:.3f}" if ratio else "n/a (a training failed: see its log)"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
