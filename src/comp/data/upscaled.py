"""Builder ``upscaled-cifar10``: Dacon's CIFAR-10 with every image upscaled, for scale tests.

Reads ``data/dacon-cifar10`` (the Dacon layout: ``train/<class>/<NNNN>.jpg``,
``test/TEST_<NNNNN>.jpg``, ``sample_submission.csv``) and writes the same competition (same
file names, hence the same ids; same class folders; the same sample submission) with every
image resized with PIL's bicubic filter to the spec's ``data.image_size`` and saved as JPEG
quality 90. A 32-px image holds no more detail at 224 px: this data set measures what a
larger input costs (decode, cache, memory, throughput), not what it gains.

The images are converted in parallel (threads by default: PIL releases the GIL while it
decodes, resizes and encodes, and on 2 cores threads were measured 1.4x as fast as spawned
processes, which pay for their imports and pickling; docs/experiments/2026-12-01-bench-scale.md),
with a progress bar, into a
temporary folder beside the root that is renamed into place once complete: an interrupted
build leaves nothing that looks like data. ``n_train`` / ``n_test`` build a subset (a seeded
draw; the training one stratified by class, both in the source's order). The root's
``build.json`` records what was built: source, size, counts, seed.

Example::

    build_upscaled_cifar10(Path("data/cifar10-128"), (128, 128))  # what `[data] builder` runs
    build_upscaled_cifar10(Path("data/cifar10-64-bench"), (64, 64), n_train=600, n_test=200)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from comp.files.atomic import atomic_dir, sweep_temporary, write_json
from comp.data.layouts import Dataset, read_class_folders, read_csv_str
from comp.errors import CompError
from comp.files.locks import hold
from comp.config.spec import Competition, DataSpec

SOURCE = Path("data") / "dacon-cifar10"  # relative to the current directory, as data.root is
TARBALL = Path("..") / "shared" / "datasets" / "dacon-cifar10" / "open.tar.gz"
SAMPLE = "sample_submission.csv"
RECORD = "build.json"
QUALITY = 90
CHUNK = 128  # images per task: large enough that a task's overhead is negligible
EXECUTORS = ("thread", "process")


def missing_source_error(source: Path) -> CompError:
    return CompError(f"{source}: CIFAR-10 source not found (the upscaled-cifar10 builder reads its train/, test/ "
                     f"and {SAMPLE}); unpack it with: mkdir -p {source} && tar -xzf {TARBALL} -C {source}")


def read_source(source: Path) -> Dataset:
    """The Dacon CIFAR-10 folder as a Dataset (test rows in the sample submission's order)."""
    if not all((source / part).exists() for part in ("train", "test", SAMPLE)):
        raise missing_source_error(source)
    spec = Competition(name="dacon-cifar10", data=DataSpec(root=str(source), sample_submission=SAMPLE))
    return read_class_folders(spec)


def _check_count(n: int, total: int, what: str, at_least: int = 1) -> None:
    if not at_least <= n <= total:
        raise CompError(f"{what} must be between {at_least} and {total} (the source's count). Received: {n}")


def stratified_subset(labels: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """Row indices of ``n`` of ``labels`` (all where None), stratified by class, seeded, in order."""
    total = len(labels)
    if n is None or n == total:
        return np.arange(total)
    _check_count(n, total, "n_train", at_least=len(set(labels)))  # at least one image of each class
    from sklearn.model_selection import train_test_split

    chosen, _ = train_test_split(np.arange(total), train_size=n, stratify=labels, random_state=seed)
    return np.sort(chosen)


def random_subset(total: int, n: int | None, seed: int = 0) -> np.ndarray:
    """Row indices of ``n`` of ``total`` rows (all where None), seeded, in order."""
    if n is None or n == total:
        return np.arange(total)
    _check_count(n, total, "n_test")
    return np.sort(np.random.default_rng(seed).choice(total, n, replace=False))


def upscale_image(src: str, dst: str, size: tuple[int, int], quality: int = QUALITY) -> None:
    """One image resized to ``size`` (height, width), bicubic, written as an RGB JPEG."""
    height, width = size
    try:
        with Image.open(src) as img:
            img = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CompError(f"{src}: cannot decode image ({e})") from None
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BICUBIC)
    img.save(dst, "JPEG", quality=quality)  # an OSError here is the destination's (a full disk)


def upscale_chunk(jobs: list[tuple[str, str]], size: tuple[int, int]) -> int:
    for src, dst in jobs:
        upscale_image(src, dst, size)
    return len(jobs)


def _pool(executor: str, workers: int):
    if executor == "process":
        # spawn, not fork: the caller may be a process with TensorFlow's threads running (a
        # script that builds this way needs the `if __name__ == "__main__":` guard)
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    if executor == "thread":
        return ThreadPoolExecutor(workers)
    raise CompError(f"executor must be one of {', '.join(EXECUTORS)}. Received: {executor!r}")


def upscale_all(jobs: list[tuple[str, str]], size: tuple[int, int], executor: str = "thread",
                workers: int | None = None, desc: str = "upscale") -> None:
    """Run ``jobs`` (source, destination) in parallel, with a progress bar.

    The first failure stops the rest: queued tasks are cancelled and running ones finish
    before it is raised, so nothing writes into a folder the caller is about to remove.
    """
    workers = workers or os.cpu_count() or 1
    chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    pool = _pool(executor, workers)
    try:
        pending = {pool.submit(upscale_chunk, chunk, tuple(size)) for chunk in chunks}
        with tqdm(total=len(jobs), desc=desc, unit="img", leave=False, disable=None) as bar:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    bar.update(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _plan(dataset: Dataset, tmp: Path, n_train: int | None, n_test: int | None, seed: int):
    """(jobs, train rows, test rows) of the build: each image's source and destination."""
    train = dataset.train.iloc[stratified_subset(dataset.train["label"].to_numpy(), n_train, seed)]
    test = dataset.test.iloc[random_subset(len(dataset.test), n_test, seed)]
    jobs = []
    for label in sorted(set(train["label"])):
        (tmp / "train" / label).mkdir(parents=True)
    (tmp / "test").mkdir(parents=True)
    for row in train.itertuples(index=False):
        jobs.append((row.path, str(tmp / "train" / row.label / Path(row.path).name)))
    for row in test.itertuples(index=False):
        jobs.append((row.path, str(tmp / "test" / Path(row.path).name)))
    return jobs, train, test


def _write_sample(source: Path, tmp: Path, test_ids: list[str], all_rows: bool) -> None:
    """The source's sample submission: the same file, or its rows of the chosen test ids."""
    if all_rows:
        shutil.copyfile(source / SAMPLE, tmp / SAMPLE)
        return
    sample = read_csv_str(source / SAMPLE)
    sample[sample.iloc[:, 0].isin(set(test_ids))].to_csv(tmp / SAMPLE, index=False)


def read_record(root: Path) -> dict | None:
    """What ``build.json`` says was built into ``root`` (None: no record, or not readable)."""
    try:
        record = json.loads((Path(root) / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def build_upscaled_cifar10(root: Path, image_size, source: Path | None = None, n_train: int | None = None,
                           n_test: int | None = None, seed: int = 0, executor: str = "thread",
                           workers: int | None = None) -> dict:
    """Write the upscaled competition into ``root``; returns its record (also ``root/build.json``).

    ``source``: the Dacon CIFAR-10 folder (default :data:`SOURCE`, data/dacon-cifar10).

    A ``root`` that already exists is left as it is (its record is returned): a second
    builder waiting on the lock finds the first one's work.
    """
    root, source, size = Path(root), Path(source or SOURCE), (int(image_size[0]), int(image_size[1]))
    dataset = read_source(source)
    root.parent.mkdir(parents=True, exist_ok=True)
    with hold(root.parent / f".{root.name}.build.lock", f"the data folder {root}", "built", wait=True):
        if root.exists():
            return read_record(root) or {}
        sweep_temporary(root.parent)  # what a killed build left
        start = time.perf_counter()
        with atomic_dir(root, "the upscaled-cifar10 data") as tmp:  # the folder appears complete or not at all
            jobs, train, test = _plan(dataset, tmp, n_train, n_test, seed)
            upscale_all(jobs, size, executor, workers, desc=f"upscale to {size[0]}x{size[1]}")
            _write_sample(source, tmp, list(test["id"]), len(test) == len(dataset.test))
            record = {"builder": "upscaled-cifar10", "source": str(source), "image_size": list(size),
                      "resample": "bicubic", "jpeg_quality": QUALITY, "n_train": len(train), "n_test": len(test),
                      "source_n_train": len(dataset.train), "source_n_test": len(dataset.test), "seed": seed,
                      "executor": executor, "seconds": round(time.perf_counter() - start, 1)}
            write_json(tmp / RECORD, record)
    return record
