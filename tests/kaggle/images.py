"""Generated images that a small CNN learns quickly at 16-32 px, ids in real competitions' forms,
and the writers (image files, deterministic zips).

Every picture is a noisy dark background plus a cue: a class-coloured filled shape (circle, square,
triangle; position jittered) for one label, one coloured patch per label at its own place for
several labels, dots and brightness rising with a grade, a shape whose size and brightness grow
with a regression target.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

PALETTE = [(230, 40, 40), (40, 200, 40), (50, 90, 240), (235, 210, 40), (210, 50, 210), (40, 210, 210),
           (245, 140, 30), (150, 90, 40), (250, 250, 250), (140, 140, 255), (255, 160, 190), (110, 170, 60)]
SHAPES = ("circle", "square", "triangle")


def _hw(size) -> tuple[int, int]:
    """(height, width) from an int or a pair."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def canvas(rng: np.random.Generator, size=32, level: int = 60) -> np.ndarray:
    """A noisy dark RGB background of ``size`` (an int or (height, width))."""
    h, w = _hw(size)
    return rng.integers(0, level, (h, w, 3), dtype=np.uint8)


def shape_mask(kind: str, h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    """Boolean mask of a filled circle, square or (upward) triangle centred at (cy, cx)."""
    yy, xx = np.mgrid[:h, :w]
    if kind == "circle":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == "square":
        return (abs(yy - cy) <= r * 0.85) & (abs(xx - cx) <= r * 0.85)
    top, bottom = cy - r, cy + r
    half = (yy - top) / max(bottom - top, 1) * r
    return (yy >= top) & (yy <= bottom) & (abs(xx - cx) <= half)


def class_image(rng: np.random.Generator, k: int, size=32) -> np.ndarray:
    """Class ``k``: a shape ``SHAPES[k % 3]`` filled with ``PALETTE[k % 12]``, position jittered."""
    img = canvas(rng, size)
    h, w = img.shape[:2]
    r = min(h, w) * 0.3
    cy, cx = h / 2 + rng.uniform(-0.12, 0.12) * h, w / 2 + rng.uniform(-0.12, 0.12) * w
    img[shape_mask(SHAPES[k % 3], h, w, cy, cx, r)] = PALETTE[k % len(PALETTE)]
    return img


def multilabel_image(rng: np.random.Generator, labels: Iterable[int], n_labels: int, size=48) -> np.ndarray:
    """One cue per present label: label ``j`` is a ``PALETTE[j]`` patch in cell ``j`` of a grid."""
    img = canvas(rng, size)
    h, w = img.shape[:2]
    cols = int(np.ceil(np.sqrt(n_labels)))
    rows = int(np.ceil(n_labels / cols))
    ch, cw = h / rows, w / cols
    side = max(2, int(min(ch, cw) * 0.6))
    for j in labels:
        y0 = int((j // cols) * ch + (ch - side) / 2 + rng.integers(-1, 2))
        x0 = int((j % cols) * cw + (cw - side) / 2 + rng.integers(-1, 2))
        y0, x0 = min(max(y0, 0), h - side), min(max(x0, 0), w - side)
        img[y0:y0 + side, x0:x0 + side] = PALETTE[j % len(PALETTE)]
    return img


def graded_image(rng: np.random.Generator, grade: int, size=32) -> np.ndarray:
    """A fundus-like disc that brightens with ``grade`` and carries ``3 * grade`` yellow dots."""
    img = canvas(rng, size, level=30)
    h, w = img.shape[:2]
    disc = shape_mask("circle", h, w, h / 2, w / 2, min(h, w) * 0.45)
    img[disc] = (min(255, 110 + 30 * grade), 50 + 10 * grade, 30)
    for _ in range(3 * grade):
        y, x = rng.integers(int(h * 0.2), int(h * 0.8) - 1), rng.integers(int(w * 0.2), int(w * 0.8) - 1)
        img[y:y + 2, x:x + 2] = (250, 240, 60)
    return img


def scalar_image(rng: np.random.Generator, t: float, size=32) -> np.ndarray:
    """A circle whose radius and brightness grow monotonically with ``t`` in [0, 1]."""
    img = canvas(rng, size, level=40)
    h, w = img.shape[:2]
    t = float(np.clip(t, 0.0, 1.0))
    r = min(h, w) * (0.12 + 0.33 * t)
    cy, cx = h / 2 + rng.uniform(-1.5, 1.5), w / 2 + rng.uniform(-1.5, 1.5)
    img[shape_mask("circle", h, w, cy, cx, r)] = (int(70 + 180 * t),) * 3
    return img


def save(img: np.ndarray, path: Path) -> None:
    """Write an image; the format follows the suffix (.jpg/.jpeg JPEG, .png PNG, .tif TIFF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(img)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=95)
    elif path.suffix.lower() in (".tif", ".tiff"):
        image.save(path, format="TIFF")
    else:
        image.save(path, format="PNG")


def make_dirs(public: Path, private: Path) -> tuple[Path, Path]:
    """Create the public and private folders; both as Paths."""
    public, private = Path(public), Path(private)
    public.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    return public, private


def draw_all(rng: np.random.Generator, folder: Path, names, labels, draw=class_image, size=32) -> None:
    """One picture per (file name, label) into ``folder``, drawn by ``draw(rng, label, size)``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, label in zip(names, labels):
        save(draw(rng, label, size), folder / name)


def zip_folder(folder: Path, archive: Path) -> None:
    """Zip every file under ``folder`` with names relative to it (as ``mlebench.utils.compress``
    and ``shutil.make_archive(root_dir=folder)`` write them), sorted, with a fixed timestamp."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(2019, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())


# --------------------------------------------------------------------------- ids and labels


def unique_ids(rng: np.random.Generator, n: int, make, taken: set[str] | None = None) -> list[str]:
    """``n`` distinct ids from ``make(rng)``, none of them in ``taken`` (which is then updated)."""
    taken = set() if taken is None else taken
    out: list[str] = []
    while len(out) < n:
        new = make(rng)
        if new not in taken:
            taken.add(new)
            out.append(new)
    return out


def hex_id(length: int):
    """An id maker: ``length`` lowercase hex digits."""
    return lambda rng: "".join("0123456789abcdef"[i] for i in rng.integers(0, 16, length))


def digit_id(length: int, prefix: str = ""):
    """An id maker: ``prefix`` then ``length`` decimal digits, the first one not 0."""
    return lambda rng: prefix + str(rng.integers(1, 10)) + "".join(str(d) for d in rng.integers(0, 10, length - 1))


def balanced(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``n`` labels in 0..k-1, as even as possible (each at least ``n // k``), shuffled."""
    return rng.permutation(np.resize(np.arange(k), n))


def label_matrix(rng: np.random.Generator, n: int, k: int, p: float = 0.3, least: int = 2) -> np.ndarray:
    """An n x k 0/1 matrix (independent labels with probability ``p``) where every column holds at
    least ``least`` ones and ``least`` zeros, so per-label AUC and F1 are defined."""
    m = (rng.random((n, k)) < p).astype(int)
    for j in range(k):
        while m[:, j].sum() < least:
            m[rng.integers(n), j] = 1
        while (1 - m[:, j]).sum() < least:
            m[rng.integers(n), j] = 0
    return m
