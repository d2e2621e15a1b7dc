"""Decode image files to uint8 RGB at the spec's size, fast, in parallel threads.

A large JPEG is downscaled while it is decoded (libjpeg's DCT scaling by 1/2, 1/4 or 1/8,
through PIL's ``Image.draft``): the decoder then never builds the full-size image, which is
most of the time spent on a 1024-px JPEG cut to 32 px (3.2x faster there). The draft stops
at twice the target size, so the final resize still filters the image: the result differs
from a full decode by at most 0.3 on the 0-255 scale on average on photographs, 0.6 on
upscaled CIFAR-10 images and 2.2 on the worst case, mosaics of 32-px images with detail down
to the pixel (docs/experiments/2026-12-01-jpeg-draft-decode.md). Every other image (PNG, a
JPEG under 4x the target) takes the exact path.

Example::

    out = np.empty((len(paths), 224, 224, 3), np.uint8)
    decode_all(paths, (224, 224), out, desc="decode train")
"""

from __future__ import annotations

import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from comp.errors import CompError

# The JPEG draft stops at this many times the target size (0: no draft). 1 (draft right down
# to the target) was measured too: where the DCT scaling lands exactly on the target no resize
# is left to filter it, and on detailed images the mean difference from a full decode reached
# 10.8. 4 keeps it under 1.0 everywhere but gains nothing over a full decode at 224 px from 1024.
DRAFT_OVER = 2


@functools.cache
def decoder_identity() -> str:
    """What decoded pixels depend on besides the files: this module's code and Pillow's version.

    Part of the decode cache's fingerprint, so that a cache decoded by another decoder (before
    the JPEG draft, or under another Pillow) is decoded again instead of trained on.
    """
    h = hashlib.sha1(Path(__file__).read_bytes())
    h.update(f"\0Pillow {PIL.__version__}".encode())
    return h.hexdigest()[:16]


def decode_image(path: str | Path, size: tuple[int, int], draft: int = DRAFT_OVER) -> np.ndarray:
    """One image as uint8 RGB of shape (height, width, 3); names the file on failure.

    ``draft`` is how many times the target size a JPEG's draft stops at; 0 decodes it in full
    (the benchmark compares the two).
    """
    height, width = size
    try:
        with Image.open(path) as img:
            # under 2 * draft times the target, libjpeg's halving could not stop at >= draft times it
            if draft and img.format == "JPEG" and img.width >= 2 * draft * width and img.height >= 2 * draft * height:
                img.draft("RGB", (draft * width, draft * height))  # size stays >= the request
            img.load()
            img = _to_rgb(img)
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
            return np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise CompError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        reason = "empty file" if Path(path).exists() and Path(path).stat().st_size == 0 else str(e)
        raise CompError(f"{path}: cannot decode image ({reason})") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any mode as RGB: 16-bit scaled (not clipped) to 8, transparency composited over black."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale: PIL's convert("RGB") clips instead of scaling.
        arr = np.asarray(img, dtype=np.uint32)
        top = 65535 if img.mode.startswith("I;16") or arr.max() > 255 else 255
        img = Image.fromarray((arr * 255 // top).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(background, img)
    return img.convert("RGB")


# Below this many pixels an image decodes in 0.1-0.2 ms, about half of it Python holding the
# GIL, and a second thread did not help (0.65-1.04x up to 128 px a side); from about 192 px
# the C calls, which release the GIL, take over (2 threads: 1.3x at 192 px, 1.8-2.0x at 512).
SMALL_PIXELS = 160 * 160


def default_workers(paths: list[str] = ()) -> int:
    """The cores this process may run on (at most 8), or 1 where the first image is small."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if paths:
        try:
            with Image.open(paths[0]) as img:  # reads the header only
                if img.width * img.height < SMALL_PIXELS:
                    return 1
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            pass  # decode_image names the file and the reason
    return max(1, min(8, cores or 1))


def decode_all(paths: list[str], size: tuple[int, int], out: np.ndarray, desc: str = "decode",
               workers: int | None = None, draft: int = DRAFT_OVER) -> None:
    """Decode ``paths`` into ``out`` (N, H, W, 3) in parallel threads, with a progress bar.

    PIL releases the GIL while it decodes, converts and resizes, so threads scale without
    pickling arrays between processes: 2 threads decoded 512- and 1024-px JPEGs 1.8-2.0x as fast
    as 1 on a 2-core machine. Small images (CIFAR's 32 px) are decoded on one thread: there only
    a process pool got past 1x (1.4-1.5x), not worth forking a process that has TensorFlow loaded
    for a decode that takes seconds (docs/experiments/2026-12-01-jpeg-draft-decode.md).
    """
    workers = workers or default_workers(paths)
    chunk = max(1, min(256, -(-len(paths) // (workers * 4))))  # a few chunks a thread, so all finish together

    def work(start: int) -> int:
        stop = min(start + chunk, len(paths))
        for i in range(start, stop):
            out[i] = decode_image(paths[i], size, draft)
        return stop - start

    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(paths), desc=desc, unit="img",
                                                   leave=False, disable=None) as bar:
        for done in pool.map(work, range(0, len(paths), chunk)):
            bar.update(done)
