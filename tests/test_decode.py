"""comp.data.decode: a large JPEG is drafted (DCT-downscaled) and stays close to a full decode,
everything else takes the exact path; the decode cache says its size before it is written."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

import comp.data.decode as decode_mod
import comp.data.images as images_mod
from comp.data.decode import decode_all, decode_image
from comp.data.images import load_images

# Mean absolute difference (0-255) of a drafted decode from the full one. The benchmark
# (docs/experiments/2026-12-01-jpeg-draft-decode.md) measured at most 0.6 on smooth upscaled
# images and 2.1 on mosaics of 32-px images at their own resolution.
DRAFT_TOLERANCE = 2.5


@pytest.fixture
def drafts(monkeypatch) -> list[tuple]:
    """Every draft request a decode makes, as (format, requested size); the drafts still happen."""
    calls = []
    for cls in (Image.Image, JpegImagePlugin.JpegImageFile):
        original = cls.draft

        def spy(self, mode, size, _original=original):
            calls.append((self.format, tuple(size) if size else None))
            return _original(self, mode, size)

        monkeypatch.setattr(cls, "draft", spy)
    return calls


def _detailed(side: int, seed: int = 0) -> Image.Image:
    """A photo-like image: random 64-px noise upscaled, so it has detail at every scale below 1/16."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return small.resize((side, side), Image.Resampling.BICUBIC)


def test_large_jpeg_is_drafted_and_close_to_the_full_decode(tmp_path, drafts):
    p = tmp_path / "big.jpg"
    _detailed(1024).save(p, quality=90)
    fast = decode_image(p, (32, 32))
    assert drafts == [("JPEG", (64, 64))]  # drafted to twice the target: libjpeg then gives 128 px
    full = decode_image(p, (32, 32), draft=0)
    assert fast.shape == full.shape == (32, 32, 3) and fast.dtype == np.uint8
    diff = np.abs(fast.astype(int) - full.astype(int))
    assert diff.mean() < DRAFT_TOLERANCE
    assert not np.array_equal(fast, full)  # the draft really took another path


def test_non_square_jpeg_is_drafted_to_the_requested_height_and_width(tmp_path, drafts):
    p = tmp_path / "wide.jpg"
    _detailed(1024).resize((1024, 512)).save(p, quality=90)
    out = decode_image(p, (20, 60))  # height, width
    assert drafts == [("JPEG", (120, 40))]  # PIL sizes are (width, height)
    assert out.shape == (20, 60, 3)
    assert np.abs(out.astype(int) - decode_image(p, (20, 60), draft=0).astype(int)).mean() < DRAFT_TOLERANCE


@pytest.mark.parametrize("name, side, fmt", [
    ("small.jpg", 100, "JPEG"),  # under 4x the target: a draft could stop below twice it
    ("big.png", 1024, "PNG"),  # PNG has no draft
    ("exact.jpg", 32, "JPEG"),  # already the target size: no resize either
])
def test_small_jpeg_or_other_formats_take_the_exact_path(tmp_path, drafts, name, side, fmt):
    p = tmp_path / name
    _detailed(side).save(p, format=fmt)
    out = decode_image(p, (32, 32))
    assert drafts == []
    np.testing.assert_array_equal(out, decode_image(p, (32, 32), draft=0))


def test_decode_all_in_threads_matches_one_by_one(tmp_path):
    paths = []
    for i, side in enumerate([1024, 300, 40, 32, 700, 64]):
        paths.append(str(tmp_path / f"{i}.jpg"))
        _detailed(side, seed=i).save(paths[-1], quality=90)
    out = np.zeros((len(paths), 32, 32, 3), np.uint8)
    decode_all(paths, (32, 32), out, workers=2)
    np.testing.assert_array_equal(out, np.stack([decode_image(p, (32, 32)) for p in paths]))


def test_small_images_are_decoded_on_one_thread(tmp_path, monkeypatch):
    # measured: threads made 32-px decoding slower; from about 192 px they pay
    monkeypatch.setattr(decode_mod.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    small, big = tmp_path / "small.jpg", tmp_path / "big.jpg"
    _detailed(32).save(small)
    _detailed(256).save(big)
    assert decode_mod.default_workers([str(small), str(big)]) == 1
    assert decode_mod.default_workers([str(big), str(small)]) == 4
    assert decode_mod.default_workers([str(tmp_path / "gone.jpg")]) == 4  # decode_image reports it
    assert decode_mod.default_workers() == 4


def test_images_module_still_offers_the_decoders():
    assert images_mod.decode_image is decode_mod.decode_image
    assert images_mod.decode_all is decode_mod.decode_all


# --------------------------------------------------------------------------- the estimate


def _pngs(tmp_path, n=5) -> list[str]:
    paths = []
    for i in range(n):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", (6, 6), (i, i, i)).save(paths[-1])
    return paths


def test_cache_decode_prints_its_size_and_place_first(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(images_mod, "ANNOUNCE_BYTES", 752_640)  # as if this cache were a large one
    paths, cache = _pngs(tmp_path), tmp_path / "cache"
    load_images(paths, (224, 224), cache, "train")
    err = capfd.readouterr().err
    npy = cache / "train-224x224.npy"
    # 5 x 224 x 224 x 3 = 752,640 bytes of pixels
    line = re.search(rf"^decode train: 5 images -> 753kB cache at {re.escape(str(npy))} \((.+) free\)$", err, re.M)
    assert line, err
    assert re.fullmatch(r"[\d.]+[kMGT]?B", line.group(1))

    load_images(paths, (224, 224), cache, "train")  # current: nothing decoded, nothing said
    assert "decode train" not in capfd.readouterr().err


def test_a_small_cache_is_decoded_silently_off_a_terminal(tmp_path, capfd):
    load_images(_pngs(tmp_path), (8, 8), tmp_path / "cache", "train")
    assert capfd.readouterr().err == ""  # a failed decode of it stays one error line
