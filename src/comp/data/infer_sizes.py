"""The image size ``comp init`` chooses: the median height and width of up to :data:`SIZE_SAMPLE`
train images spread over the folder (a compressed tar: its first ones), read from their headers
only (PIL reads the size without decoding the pixels; an archive's member is read, not unpacked),
each clipped to :data:`SIZE_RANGE` and rounded to a multiple of 8.
"""

from __future__ import annotations

import math
import statistics
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from PIL import Image

from comp.data.infer_files import ImageSource
from comp.errors import CompError

SIZE_SAMPLE = 200  # images whose header is read for the image size
SIZE_RANGE = (16, 128)  # the image size is clipped to this range, then rounded to a multiple of 8


def _header_size(stream) -> tuple[int, int] | None:
    """(height, width) from an image's header, or None where PIL cannot read it."""
    try:
        with Image.open(stream) as im:
            width, height = im.size
        return height, width
    except Exception:  # noqa: BLE001  (any unreadable image is left out of the sample)
        return None


def _picked(files: list[str], n: int) -> list[str]:
    """Up to ``n`` files spread evenly over the list."""
    if len(files) <= n:
        return list(files)
    return [files[i * len(files) // n] for i in range(n)]


def _normal(name: str) -> str:
    """An archive member's name as the listing gave it (``./train/x.jpg`` -> ``train/x.jpg``)."""
    return PurePosixPath(name).as_posix()


def sampled_sizes(root: Path, source: ImageSource, n: int = SIZE_SAMPLE) -> tuple[list[tuple[int, int]], int]:
    """The (height, width) of up to ``n`` of the source's images, read from their headers (an
    archive's member as a stream: PIL reads what the header needs), and how many were tried."""
    files = source.files
    if source.archive is None:
        sizes = [_header_size(root / source.folder / f) for f in _picked(files, n)]
    elif source.archive.lower().endswith(".zip"):
        with zipfile.ZipFile(root / source.archive) as zf:
            names = {_normal(i.filename): i for i in zf.infolist()}
            sizes = []
            for f in _picked(files, n):
                with zf.open(names[source.prefix + f]) as stream:
                    sizes.append(_header_size(stream))
    else:  # a compressed tar reads from its start: its first n images, in archive order
        wanted, sizes = {source.prefix + f for f in files}, []
        with tarfile.open(root / source.archive) as tf:
            for member in tf:
                if member.isfile() and _normal(member.name) in wanted:
                    sizes.append(_header_size(tf.extractfile(member)))
                    if len(sizes) >= n:
                        break
    return [s for s in sizes if s is not None], len(sizes)


def round_side(value: float) -> int:
    """One side of the image size: clipped to SIZE_RANGE, rounded to the nearest multiple of 8 (half up)."""
    lo, hi = SIZE_RANGE
    return int(min(hi, max(lo, math.floor(value / 8 + 0.5) * 8)))


def choose_image_size(root: Path, source: ImageSource) -> tuple[list[int], str]:
    """data.image_size and why: the median size of the sampled images, clipped and rounded."""
    sizes, tried = sampled_sizes(root, source)
    if not sizes:
        raise CompError(f"{root / source.folder}: PIL could read none of the sampled images' headers; "
                        f"set data.image_size by hand")
    height, width = statistics.median(h for h, _ in sizes), statistics.median(w for _, w in sizes)
    chosen = [round_side(height), round_side(width)]
    lo, hi = SIZE_RANGE
    unread = f" ({tried - len(sizes)} more unreadable, left out)" if tried > len(sizes) else ""
    why = (f"the median size of {len(sizes)} sampled train images{unread} is {height:g}x{width:g} "
           f"(height x width), clipped to [{lo}, {hi}] and rounded to a multiple of 8")
    return chosen, why
