"""Decode benchmark: JPEG draft-mode downscaling against a full decode, and threads against cores.

Builds test JPEGs (quality 90) outside the repository (``--work``, default /tmp/decode-bench)
at each ``--sources`` size: ``--count`` CIFAR-10 training images, as many of each class,
upscaled (bicubic; smooth, the easy case), and ``--count`` mosaics of 32-px CIFAR-10 images
at their own resolution (detail down to the pixel, where aliasing shows); and ``--count``
``--photo``-px crops of scikit-learn's two sample photographs (real photographic detail).

Then, for each set and ``--targets`` size, it decodes them with
comp.data.decode.decode_image in full (draft 0) and drafted to >= 1, 2 and 4 times the
target (``--drafts``), and prints the mean and max absolute pixel difference (0-255) from the
full decode, the mean one from a careful reference (full decode, one Lanczos resize) and
images per CPU second on one thread.

Last, decode_all's images/s on 1 thread and on every core, and a process pool's, on the
original 32-px CIFAR-10 JPEGs (``--small`` of them), on CIFAR-10 JPEGs upscaled to each
``--parallel-sides`` size and on the mosaics (``--parallel-only``: this part alone). Saves
the tables as JSON under runs/bench/.

    python -m tests.benchmarks.bench_decode [--count 200] [--sources 512 1024] [--targets 32 64 128 224]
    python -m tests.benchmarks.bench_decode --parallel-only
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from comp.files.atomic import write_json
from comp.data.decode import decode_all, decode_image, default_workers

CIFAR = Path("data/dacon-cifar10/train")


def originals(count: int) -> list[Path]:
    """``count`` CIFAR-10 training JPEGs, the same number from each class folder, in order."""
    classes = sorted(p for p in CIFAR.iterdir() if p.is_dir())
    per = -(-count // len(classes))
    return [f for c in classes for f in sorted(c.glob("*.jpg"))[:per]][:count]


def build(files: list[Path], side: int, work: Path) -> list[str]:
    """The files upscaled to ``side`` px and saved as JPEG quality 90 (kept for the next run).

    Upscaled, they are smooth: the easy case for a draft."""
    folder = work / f"upscaled-{side}"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, f in enumerate(files):
        p = folder / f"{i:05d}-{f.parent.name}.jpg"
        if not p.is_file():
            with Image.open(f) as img:
                img.convert("RGB").resize((side, side), Image.Resampling.BICUBIC).save(p, quality=90)
        out.append(str(p))
    return out


def build_mosaics(count: int, side: int, tiles: list[Path], work: Path) -> list[str]:
    """``count`` JPEGs (quality 90) of ``side`` px, each a grid of 32-px CIFAR-10 images at their
    own resolution: detail down to the pixel, the hard case for a draft (aliasing shows here)."""
    folder = work / f"mosaic-{side}"
    folder.mkdir(parents=True, exist_ok=True)
    n = side // 32
    rng = np.random.default_rng(0)
    pool = None
    out = []
    for i in range(count):
        p = folder / f"{i:05d}.jpg"
        if not p.is_file():
            if pool is None:
                pool = np.stack([np.asarray(Image.open(t).convert("RGB")) for t in tiles])
            pick = pool[rng.integers(0, len(pool), n * n)].reshape(n, n, 32, 32, 3)
            Image.fromarray(pick.transpose(0, 2, 1, 3, 4).reshape(side, side, 3)).save(p, quality=90)
        out.append(str(p))
    return out


def build_photos(count: int, side: int, work: Path) -> list[str]:
    """``count`` random ``side``-px crops (some mirrored) of scikit-learn's two sample photographs
    (640x427), saved as JPEG quality 90: real photographic detail, between the two extremes."""
    import sklearn

    photos = [np.asarray(Image.open(p).convert("RGB"))
              for p in sorted((Path(sklearn.__file__).parent / "datasets" / "images").glob("*.jpg"))]
    folder = work / f"photo-{side}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        p = folder / f"{i:05d}.jpg"
        photo = photos[i % len(photos)]
        y, x = rng.integers(0, photo.shape[0] - side + 1), rng.integers(0, photo.shape[1] - side + 1)
        crop = photo[y:y + side, x:x + side]
        if not p.is_file():
            Image.fromarray(crop[:, ::-1] if rng.random() < 0.5 else crop).save(p, quality=90)
        out.append(str(p))
    return out


def decode_serial(paths: list[str], size: tuple[int, int], draft: int, repeat: int) -> tuple[np.ndarray, float]:
    """All images decoded on this thread, and the best images per CPU second of ``repeat`` passes.

    CPU time, not wall time: the machine is shared, and other work stretched wall times by up
    to 1.5x between two identical passes."""
    best = 0.0
    for _ in range(repeat):
        start = time.process_time()
        x = np.stack([decode_image(p, size, draft) for p in paths])
        best = max(best, len(paths) / max(time.process_time() - start, 1e-9))
    return x, best


def drafted_side(path: str, target: int, draft: int) -> int:
    """The side the JPEG decoder hands over under this draft setting (as decode_image decides)."""
    with Image.open(path) as img:
        if draft and img.width >= 2 * draft * target:
            img.draft("RGB", (draft * target, draft * target))
        return img.size[0]


def reference(paths: list[str], t: int) -> np.ndarray:
    """Each image decoded in full and resized with Lanczos in one step: the slow, careful
    answer both decodes are held against (they differ from each other on detail anyway)."""
    out = []
    for p in paths:
        with Image.open(p) as img:
            out.append(np.asarray(img.convert("RGB").resize((t, t), Image.Resampling.LANCZOS)))
    return np.stack(out).astype(np.int16)


def accuracy_table(sets: dict[str, list[str]], targets: list[int], drafts: list[int], repeat: int) -> list[dict]:
    """Per set, target and draft: the difference from the full decode and from the Lanczos
    reference (mean and max, 0-255), and images/s on one thread."""
    rows = []
    for name, paths in sets.items():
        for t in targets:
            gold = reference(paths, t)
            full = None
            for draft in [0, *drafts]:
                x, speed = decode_serial(paths, (t, t), draft, repeat)
                x = x.astype(np.int16)
                full = x if full is None else full
                diff, off = np.abs(x - full), np.abs(x - gold)
                rows.append({"source": name, "target": t, "draft": draft, "decoded_at": drafted_side(paths[0], t, draft),
                             "mean_abs": round(float(diff.mean()), 2), "max_abs": int(diff.max()),
                             "vs_lanczos": round(float(off.mean()), 2), "img_per_cpu_s": round(speed)})
    return rows


def _decode_slice(args: tuple[str, list[str], int, tuple[int, int]]) -> int:
    """A process pool worker: decode its slice straight into the .npy, opened by path."""
    npy, paths, start, size = args
    out = np.load(npy, mmap_mode="r+")
    for i, p in enumerate(paths):
        out[start + i] = decode_image(p, size)
    out.flush()
    return len(paths)


def decode_processes(paths: list[str], size: tuple[int, int], npy: Path, workers: int) -> None:
    out = np.lib.format.open_memmap(npy, mode="w+", dtype=np.uint8, shape=(len(paths), *size, 3))
    del out
    chunk = -(-len(paths) // (workers * 4))
    jobs = [(str(npy), paths[s:s + chunk], s, size) for s in range(0, len(paths), chunk)]
    with ProcessPoolExecutor(workers) as pool:
        sum(pool.map(_decode_slice, jobs))


def parallel_table(sets: dict[str, tuple[list[str], int]], work: Path, repeat: int) -> list[dict]:
    """decode_all on 1 thread and on every core, and a process pool on every core: the best
    wall-clock images/s of ``repeat`` rounds (the three take turns within a round), and the CPU
    seconds spent per wall second (near the core count only where the GIL is released)."""
    rows, cores = [], default_workers()
    for name, (paths, t) in sets.items():
        out = np.empty((len(paths), t, t, 3), np.uint8)
        ways = {"1 thread": lambda: decode_all(paths, (t, t), out, workers=1),
                f"{cores} threads": lambda: decode_all(paths, (t, t), out, workers=cores),
                f"{cores} processes": lambda: decode_processes(paths, (t, t), work / "pool.npy", cores)}
        best = {k: (0.0, 0.0) for k in ways}
        for _ in range(repeat):
            for k, run in ways.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                best[k] = max(best[k], (len(paths) / wall, cpu / wall))
        base = best["1 thread"][0]
        rows += [{"images": name, "target": t, "how": k, "img_per_s": round(v), "speedup": round(v / base, 2),
                  "cpu_per_wall": round(u, 2) if "thread" in k else "-"} for k, (v, u) in best.items()]
    return rows


def show(rows: list[dict]) -> None:
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200, help="images per source size")
    ap.add_argument("--sources", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--targets", type=int, nargs="+", default=[32, 64, 128, 224])
    ap.add_argument("--drafts", type=int, nargs="+", default=[1, 2, 4], help="draft settings against the full decode")
    ap.add_argument("--photo", type=int, default=400, help="side of the photograph crops")
    ap.add_argument("--small", type=int, default=10000, help="original 32-px JPEGs for the parallel test")
    ap.add_argument("--parallel-sides", type=int, nargs="+", default=[64, 128, 192, 256],
                    help="upscaled CIFAR-10 JPEGs of these sides (1,000 each) for the parallel test, cut to 32 px")
    ap.add_argument("--parallel-only", action="store_true", help="skip the draft comparison")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes; the best counts")
    ap.add_argument("--parallel-repeat", type=int, default=5, help="rounds of the parallel test")
    ap.add_argument("--work", type=Path, default=Path("/tmp/decode-bench"))
    args = ap.parse_args()

    files = originals(args.count)
    small = originals(args.small)
    sets = {f"upscaled {side}": build(files, side, args.work) for side in args.sources}
    sets |= {f"mosaic {side}": build_mosaics(args.count, side, small, args.work) for side in args.sources}
    sets[f"photo {args.photo}"] = build_photos(args.count, args.photo, args.work)
    accuracy = [] if args.parallel_only else accuracy_table(sets, args.targets, args.drafts, args.repeat)
    if accuracy:
        show(accuracy)
        print()
    parallel_sets = {f"{len(small)} CIFAR-10 32 px": ([str(p) for p in small], 32)}
    parallel_sets |= {f"1000 upscaled {side} px": (build(small[:1000], side, args.work), 32) for side in args.parallel_sides}
    parallel_sets |= {f"{args.count} mosaic {side} px": (sets[f"mosaic {side}"], 224) for side in args.sources}
    parallel = parallel_table(parallel_sets, args.work, args.parallel_repeat)
    show(parallel)
    out = Path("runs/bench") / f"decode-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, {"count": len(files), "accuracy": accuracy, "parallel": parallel})
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\n{len(files)} images per source size, {default_workers()} cores, load average {load} | saved {out}")


if __name__ == "__main__":
    main()
