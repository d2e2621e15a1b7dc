"""Decode image files to uint8 RGB at the spec's size, fast, in parallel threads.

A large JPEG is downscaled while it is decoded (libjpeg's DCT scaling by 1/2, 1/4 or 1/8,
through PIL's ``Image.draft``): the decoder then never builds the full-size image, which is
most of the time spent on a 1024-px JPEG cut to 32 px (3.2x faster there). The draft stops
at twice the target size, so the final resize still filters the image: the result differs
from a full decode by at most 0.3 on the 0-255 scale on average on photographs, 0.6 on
upscaled CIFAR-10 images and 2.2 on the worst case, mosaics of 32-px images with detail down
to the pixel (docs/experiments/2026-12-01-jpeg-draft-decode.md). Every other image (PNG, a
JPEG under 4x the target) takes the exact path.

Arrays (``.npy``) and DICOM (``.dcm``) become the same uint8 RGB images, normalised per image:

- the array is (H, W) or (H, W, C) with C = 1 (gray), 3 (RGB) or 4 (RGBA, composited over
  black like a PNG's transparency), of a numeric dtype (bool, integers, floats); more than 3
  dimensions, another C, an empty array or another dtype (complex, strings, objects, records)
  is refused with one line, and so is a float array holding NaN or infinity;
- uint8 is kept as is; any other dtype is scaled linearly from the image's own minimum to its
  maximum (over all its channels together, so colours keep their balance) onto 0..255, and
  rounded: the darkest pixel becomes 0 and the brightest 255 whatever the range (a 12-bit
  scan, a 0..1 float, a signed CT in Hounsfield units). A constant image becomes all 0. The
  scaling is per image: two images' absolute levels are not comparable after it.
- DICOM is read with ``pydicom.dcmread`` (imported only when a ``.dcm`` is read: the ``dicom``
  extra, ``pip install 'comp[dicom]'``). Of a grayscale image the stored values go through the
  modality rescale (RescaleSlope/RescaleIntercept or the modality LUT), then the VOI LUT or the
  window (WindowCenter/WindowWidth, the first one where several are given), then MONOCHROME1
  (where a high value is dark) is inverted so that bright is always high; then the scaling above
  applies (a uint8 result is kept as is). A colour DICOM is taken as pydicom gives it (RGB).
  A multi-frame file (a CT series in one file, a cine loop) gives its first frame only.

The image is then resized to the target size as the other formats are.

Example::

    out = np.empty((len(paths), 224, 224, 3), np.uint8)
    decode_all(paths, (224, 224), out, desc="decode train")
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
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
DICOM_EXTRA = "install the dicom extra: pip install 'comp[dicom]'"
ARRAY_KINDS = "biuf"  # numpy dtype kinds an image array may have: bool, int, uint, float


@functools.cache
def decoder_identity() -> str:
    """What decoded pixels depend on besides the files: this module's code, Pillow's and pydicom's versions.

    Part of the decode cache's fingerprint, so that a cache decoded by another decoder (before
    the JPEG draft, or under another Pillow) is decoded again instead of trained on.
    """
    try:
        dicom = importlib.metadata.version("pydicom")  # the version only: pydicom is not imported here
    except importlib.metadata.PackageNotFoundError:
        dicom = "none"
    h = hashlib.sha1(Path(__file__).read_bytes())
    h.update(f"\0Pillow {PIL.__version__}\0pydicom {dicom}".encode())
    return h.hexdigest()[:16]


def decode_image(path: str | Path, size: tuple[int, int], draft: int = DRAFT_OVER) -> np.ndarray:
    """One image as uint8 RGB of shape (height, width, 3); names the file on failure.

    ``draft`` is how many times the target size a JPEG's draft stops at; 0 decodes it in full
    (the benchmark compares the two). ``.npy`` and ``.dcm`` files are normalised as the
    module's docstring says.
    """
    height, width = size
    reader = ARRAY_READERS.get(Path(path).suffix.lower())
    img = array_image(reader(path), path) if reader else _pil_image(path, size, draft)
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(img, dtype=np.uint8)


def _pil_image(path: str | Path, size: tuple[int, int], draft: int) -> Image.Image:
    """An image file PIL reads, loaded as RGB (a large JPEG drafted)."""
    height, width = size
    try:
        with Image.open(path) as img:
            # under 2 * draft times the target, libjpeg's halving could not stop at >= draft times it
            if draft and img.format == "JPEG" and img.width >= 2 * draft * width and img.height >= 2 * draft * height:
                img.draft("RGB", (draft * width, draft * height))  # size stays >= the request
            img.load()
            return _to_rgb(img)
    except FileNotFoundError:
        raise CompError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise CompError(f"{path}: cannot decode image ({_reason(path, e)})") from None


def _reason(path: str | Path, e: BaseException) -> str:
    """An exception's message on one line ("empty file" for an empty file)."""
    if Path(path).exists() and Path(path).stat().st_size == 0:
        return "empty file"
    return " ".join(str(e).split()) or type(e).__name__


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


# --------------------------------------------------------------------------- arrays and DICOM


def check_array(shape: tuple, dtype: np.dtype, where: str | Path) -> None:
    """An image array's shape and dtype as the module's docstring allows; else one CompError line."""
    accepted = "an image array is (H, W) or (H, W, 1/3/4) of bool, integers or floats"
    if dtype.kind not in ARRAY_KINDS:
        raise CompError(f"{where}: the array's dtype is {dtype}, not a number; {accepted}")
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)) or 0 in shape:
        raise CompError(f"{where}: the array's shape is {tuple(shape)}; {accepted}")


def to_uint8(arr: np.ndarray, where: str | Path) -> np.ndarray:
    """``arr`` as uint8: kept where it is uint8, else scaled from its min..max to 0..255 (constant: 0)."""
    check_array(arr.shape, arr.dtype, where)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise CompError(f"{where}: the array holds NaN or infinity; an image array holds finite numbers only")
    x = arr.astype(np.float64) / 2  # halved: the span of floats near +-1e308 would overflow
    lo, hi = x.min(), x.max()
    if hi == lo:
        return np.zeros(arr.shape, np.uint8)
    x -= lo
    x /= hi - lo  # in [0, 1]; 255 / span could overflow where the span is tiny
    x *= 255
    return np.rint(x, out=x).astype(np.uint8)


def array_image(arr: np.ndarray, where: str | Path) -> Image.Image:
    """An image array (see the module's docstring) as an RGB PIL image at its own size."""
    arr = to_uint8(arr, where)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return _to_rgb(Image.fromarray(np.ascontiguousarray(arr)))  # L, RGB or RGBA, by the shape


def _npy_header(f) -> tuple[tuple, np.dtype]:
    """The shape and dtype of the .npy file open as ``f``, from its header (the data is not read)."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran, dtype = read(f)
    return shape, dtype


def read_npy(path: str | Path) -> np.ndarray:
    """A ``.npy`` image array, its shape and dtype checked before its data is read; never unpickles."""
    try:
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f)
            check_array(shape, dtype, path)
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False)
    except CompError:  # a ValueError too
        raise
    except FileNotFoundError:
        raise CompError(f"{path}: image file not found") from None
    except (OSError, ValueError, EOFError) as e:
        raise CompError(f"{path}: cannot read the .npy array ({_reason(path, e)}); "
                        f"an image array is a file written by numpy.save") from None


def read_dicom(path: str | Path) -> np.ndarray:
    """A DICOM file's first frame: rescaled, windowed, MONOCHROME1 inverted (the module's docstring)."""
    try:
        import pydicom
    except ImportError:
        raise CompError(f"{path}: reading DICOM needs pydicom; {DICOM_EXTRA}") from None
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut  # pydicom 3
    except ImportError:
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut  # pydicom 2.4
    try:
        ds = pydicom.dcmread(path)
        arr = _first_frame(ds)
        if int(ds.get("SamplesPerPixel", 1) or 1) == 1:
            arr = apply_voi_lut(apply_modality_lut(arr, ds), ds)
            if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
                arr = -arr.astype(np.float64)  # high values are dark: inverted, then scaled
        return arr
    except FileNotFoundError:
        raise CompError(f"{path}: image file not found") from None
    except MemoryError:
        raise
    except Exception as e:  # pydicom raises many kinds on a damaged or unsupported file
        raise CompError(f"{path}: cannot read the DICOM image ({type(e).__name__}: {_reason(path, e)})") from None


def _first_frame(ds) -> np.ndarray:
    """The pixel data of the first frame (pydicom 3 decodes that frame alone)."""
    if hasattr(ds, "pixel_array_options"):  # pydicom 3
        ds.pixel_array_options(index=0)
        return ds.pixel_array
    arr = ds.pixel_array
    return arr[0] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else arr


ARRAY_READERS = {".npy": read_npy, ".dcm": read_dicom}


def pixel_count(path: str | Path) -> int | None:
    """Width x height from the file's header alone (None where it cannot be read: decode_image says why)."""
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".npy":
            with open(path, "rb") as f:
                shape = _npy_header(f)[0]
            return int(shape[0]) * int(shape[1]) if len(shape) >= 2 else None
        if suffix == ".dcm":
            import pydicom

            ds = pydicom.dcmread(path, stop_before_pixels=True)
            return int(ds.Rows) * int(ds.Columns)
        with Image.open(path) as img:  # reads the header only
            return img.width * img.height
    except Exception:  # noqa: BLE001 - only a hint for the thread count; decode_image names the failure
        return None


# Below this many pixels an image decodes in 0.1-0.2 ms, about half of it Python holding the
# GIL, and a second thread did not help (0.65-1.04x up to 128 px a side); from about 192 px
# the C calls, which release the GIL, take over (2 threads: 1.3x at 192 px, 1.8-2.0x at 512).
SMALL_PIXELS = 160 * 160


def default_workers(paths: list[str] = ()) -> int:
    """The cores this process may run on (at most 8), or 1 where the first image is small."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if paths:
        pixels = pixel_count(paths[0])
        if pixels is not None and pixels < SMALL_PIXELS:
            return 1
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
