"""Decode images once into a uint8 cache, memory-mapped.

Every image becomes RGB at the spec's size (grayscale, RGBA, palette, 16-bit, any size;
the decoding itself is in comp.data.decode).
The cache is one ``.npy`` per competition, split and size, named by a fingerprint of the
file list (relative paths, sizes, modification times) and of the decoder (its code and Pillow's
version), so it is rebuilt only when the files or the decoder change. It is written to a
temporary file and renamed, and checked (shape, count, fingerprint, and the stamp of its own
content: :func:`payload_stamp`) before use; a stale or damaged cache is rebuilt.

Example::

    x = load_images(paths, (32, 32), cache_dir=Path("data/.cache/dacon-cifar10"), name="train")
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from comp.files.atomic import atomic_path, sweep_temporary, write_json
from comp.data.decode import decode_all, decode_image, decoder_identity  # noqa: F401 (decode_image: imported from here too)
from comp.errors import CompError
from comp.files.locks import hold


def fingerprint(paths: list[str], size: tuple[int, int]) -> str:
    """A hash of the file list (paths, sizes, modification times), the target size and the decoder."""
    h = hashlib.sha1(f"{size[0]}x{size[1]}\0{decoder_identity()}".encode())
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise CompError(f"{p}: image file not found") from None
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


# The payload's stamp reads this many blocks spread over the file (all of it when smaller): a
# cheap check on every open, not a hash of gigabytes.
STAMP_BLOCKS, STAMP_BLOCK_BYTES = 64, 1 << 16


def payload_stamp(npy: Path) -> dict:
    """The cache file's size, modification time and a hash of sampled blocks of its content:
    pixels overwritten from outside (by a write, or by a copy that kept the old time) no longer
    match the stamp recorded when comp wrote the file."""
    st = npy.stat()
    h = hashlib.sha1()
    with npy.open("rb") as f:
        if st.st_size <= STAMP_BLOCKS * STAMP_BLOCK_BYTES:
            h.update(f.read())
        else:
            for i in range(STAMP_BLOCKS):
                f.seek((st.st_size - STAMP_BLOCK_BYTES) * i // (STAMP_BLOCKS - 1))
                h.update(f.read(STAMP_BLOCK_BYTES))
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sample_sha1": h.hexdigest()[:16]}


def _cache_ok(npy: Path, meta: Path, count: int, size: tuple[int, int], fp: str) -> bool:
    try:
        info = json.loads(meta.read_text())
        arr = np.load(npy, mmap_mode="r")
        stamp = payload_stamp(npy)
    except (OSError, ValueError, EOFError):  # missing, truncated or not a .npy at all
        return False
    return (isinstance(info, dict) and info.get("fingerprint") == fp and info.get("count") == count
            and arr.shape == (count, size[0], size[1], 3) and arr.dtype == np.uint8
            and info.get("payload") == stamp)  # a cache of an older version, without a stamp, is decoded again


def load_images(paths: list[str], size: tuple[int, int], cache_dir: Path | None, name: str) -> np.ndarray:
    """All images as a uint8 array (N, H, W, 3), from the cache when it is current.

    With ``cache_dir=None`` the images are decoded into memory and nothing is written.
    """
    size = (int(size[0]), int(size[1]))
    if cache_dir is None:
        out = np.empty((len(paths), *size, 3), np.uint8)
        decode_all(paths, size, out, desc=f"decode {name}")
        return out
    fp = fingerprint(paths, size)
    npy = cache_dir / f"{name}-{size[0]}x{size[1]}.npy"
    meta = npy.with_suffix(".json")
    # one decode of a cache at a time: a second waits, then finds it current (or rebuilds it
    # for its own files), so no metadata is ever paired with another file list's pixels
    lock = cache_dir.parent / f".{cache_dir.name}-{npy.stem}.lock"  # beside the cache folder, not in it
    with hold(lock, f"the decode cache {npy}", "written", wait=True):
        if not _cache_ok(npy, meta, len(paths), size, fp):
            _write_cache(paths, size, npy, meta, fp, name)
    return np.load(npy, mmap_mode="r")


def size_text(n: int) -> str:
    """``753kB``, ``3.76GB``: tqdm's decimal sizes, as its progress bars show them."""
    return tqdm.format_sizeof(n, "B", 1000)


# A cache this large is announced before it is decoded (what it will take, where, and what is
# free), as is any cache where stderr is a terminal (beside the progress bar). A small one in a
# log or a test says nothing: a failed decode of it stays one error line.
ANNOUNCE_BYTES = 100 * 10**6


def _write_cache(paths: list[str], size: tuple[int, int], npy: Path, meta: Path, fp: str, name: str) -> None:
    """Decode into a preallocated temporary file, then rename it into place, metadata last."""
    shape = (len(paths), *size, 3)
    sweep_temporary(npy.parent)  # what killed decodes left behind
    pixels = int(np.prod(shape))
    free = check_disk_space(npy.parent, pixels + 4096, f"the decode cache {npy}")
    if pixels >= ANNOUNCE_BYTES or sys.stderr.isatty():
        print(f"decode {name}: {len(paths):,} images -> {size_text(pixels)} cache at {npy} ({size_text(free)} free)",
              file=sys.stderr, flush=True)
    with atomic_path(npy) as tmp:  # renamed into place only once every image is in
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            _preallocate(tmp)  # a full disk fails here, not as a SIGBUS in the middle of decoding
            decode_all(paths, size, out, desc=f"decode {name}")
            out.flush()
            del out
            meta.unlink(missing_ok=True)  # the old metadata must never describe the new pixels
        except OSError as e:
            raise CompError(f"{npy.parent}: cannot write the decode cache ({e.strerror or e})") from None
    write_json(meta, {"fingerprint": fp, "count": len(paths), "size": list(size), "payload": payload_stamp(npy)})


def _preallocate(path: Path) -> None:
    """Reserve the file's blocks (open_memmap makes a sparse file)."""
    fd = os.open(path, os.O_RDWR)
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def check_disk_space(folder: Path, needed: int, what: str) -> int:
    """Refuse before writing ``needed`` bytes into ``folder`` where the disk has less free; the free bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise CompError(f"{what} needs {needed / 2**30:.2f} GiB but {folder} has {free / 2**30:.2f} GiB free; "
                        f"free some space or lower data.image_size")
    return free



CACHE_DIR = Path("data") / ".cache"


def data_fingerprint(competition, dataset) -> str:
    """The training set as a run depends on it: each row's id, label and file (path below the
    data root, size, modification time)."""
    h = hashlib.sha1()
    root = str(competition.root)
    for row in dataset.train.itertuples(index=False):
        st = os.stat(row.path)
        h.update(f"{row.id}\0{row.label}\0{os.path.relpath(row.path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def test_key(competition, dataset) -> str | None:
    """What a fold's saved test predictions are valid for: the test ids in submission order and
    the test files (paths, sizes, modification times) at the spec's size. None: no test set."""
    if not len(dataset.test):
        return None
    h = hashlib.sha1("\0".join(dataset.test["id"]).encode())
    h.update(fingerprint(dataset.test["path"].tolist(), tuple(competition.data.image_size)).encode())
    return h.hexdigest()[:16]


def load_competition_images(competition, dataset, subset: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(train images, test images or None), uint8, from the decode cache under data/.cache/<competition>/.

    A ``--subset`` run's images are cached apart (``train-subset<N>-...``): sharing the file
    name made a quick comparison overwrite the full training set's cache, decoded again by the
    next full run. A subset run has no test images (it is for comparison).
    """
    x_train = load_train_images(competition, dataset, subset)
    return x_train, load_test_images(competition, dataset) if len(dataset.test) else None


def load_test_images(competition, dataset) -> np.ndarray:
    """The test images of :func:`load_competition_images` alone (pseudo-labels read them)."""
    return load_images(dataset.test["path"].tolist(), tuple(competition.data.image_size),
                       CACHE_DIR / competition.name, "test")


def load_train_images(competition, dataset, subset: int = 0) -> np.ndarray:
    """The training images of :func:`load_competition_images` alone (``comp report`` shows some)."""
    name = f"train-subset{subset}" if subset else "train"
    return load_images(dataset.train["path"].tolist(), tuple(competition.data.image_size),
                       CACHE_DIR / competition.name, name)
