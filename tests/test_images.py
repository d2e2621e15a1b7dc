"""comp.data.images: every image mode becomes uint8 RGB at the spec's size; the decode cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import comp.data.images as images_mod
from comp.data.images import decode_image, load_images
from comp.errors import CompError

SIZE = (10, 14)  # height, width: not square, so a swapped order shows


def rgb(value, h=8, w=8) -> Image.Image:
    return Image.fromarray(np.full((h, w, 3), value, np.uint8))


# --------------------------------------------------------------------------- decoding


def test_grayscale_becomes_three_equal_channels(tmp_path):
    p = tmp_path / "gray.png"
    Image.fromarray(np.full((6, 9), 200, np.uint8)).save(p)
    out = decode_image(p, SIZE)
    assert out.shape == (*SIZE, 3) and out.dtype == np.uint8
    assert (out == 200).all()


def test_rgba_is_composited_over_black(tmp_path):
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[:, :4] = [255, 0, 0, 255]  # opaque red on the left
    arr[:, 4:] = [0, 255, 0, 0]  # fully transparent green on the right
    p = tmp_path / "rgba.png"
    Image.fromarray(arr).save(p)
    out = decode_image(p, (8, 8))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert (out[:, :3] == [255, 0, 0]).all()
    assert (out[:, 5:] == 0).all()


def _palette_image() -> Image.Image:
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 255] + [10, 200, 30] + [0, 0, 0] * 254)  # index 0 blue, 1 green
    img.paste(0, (0, 0, 4, 8))  # left half: index 0
    return img


def test_palette_without_transparency_keeps_its_colours(tmp_path):
    p = tmp_path / "pal.png"
    _palette_image().save(p)
    with Image.open(p) as check:
        assert check.mode == "P" and "transparency" not in check.info
    out = decode_image(p, (8, 8))
    assert out.dtype == np.uint8 and out.shape == (8, 8, 3)
    assert (out[:, :3] == [0, 0, 255]).all()
    assert (out[:, 5:] == [10, 200, 30]).all()


def test_palette_with_transparency_is_composited_over_black(tmp_path):
    p = tmp_path / "pal-t.png"
    _palette_image().save(p, transparency=0)  # index 0 (the blue left half) is transparent
    with Image.open(p) as check:
        assert check.mode == "P" and "transparency" in check.info
    out = decode_image(p, (8, 8))
    assert (out[:, :3] == 0).all()
    assert (out[:, 5:] == [10, 200, 30]).all()


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    arr = np.full((8, 8), 30000, np.uint16)
    arr[:, 4:] = 65535
    p = tmp_path / "deep.png"
    Image.fromarray(arr).save(p)
    with Image.open(p) as check:
        assert check.mode == "I;16"
    out = decode_image(p, (8, 8))
    assert out.dtype == np.uint8 and out.shape == (8, 8, 3)
    assert (out[:, :3] == 30000 * 255 // 65535).all()  # 116, not clipped to 255
    assert (out[:, 5:] == 255).all()


@pytest.mark.parametrize("mode, fmt, value", [
    ("1", "PNG", 1), ("LA", "PNG", (120, 255)), ("CMYK", "JPEG", (0, 0, 0, 0)), ("RGB", "BMP", (5, 6, 7)),
    ("RGB", "GIF", (255, 0, 0)), ("RGB", "WEBP", (0, 0, 255)), ("RGB", "TIFF", (9, 8, 7)),
])
def test_other_modes_and_formats_become_rgb(tmp_path, mode, fmt, value):
    p = tmp_path / f"img.{fmt.lower()}"
    Image.new(mode, (9, 7), value).save(p, format=fmt)
    out = decode_image(p, SIZE)
    assert out.shape == (*SIZE, 3) and out.dtype == np.uint8
    assert (out[..., 0] == out[0, 0, 0]).all()  # a flat image stays flat


@pytest.mark.parametrize("h, w", [(40, 30), (7, 9), (10, 14), (200, 3)])
def test_jpegs_of_any_size_come_out_at_the_requested_size(tmp_path, h, w):
    p = tmp_path / f"{h}x{w}.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(p, quality=90)
    out = decode_image(p, SIZE)
    assert out.shape == (*SIZE, 3) and out.dtype == np.uint8


def test_mixed_modes_and_sizes_load_into_one_uint8_array(tmp_path):
    paths = []
    for i, img in enumerate([rgb(50, 5, 5), Image.new("L", (20, 11), 90), Image.new("RGBA", (9, 30), (1, 2, 3, 255)),
                             _palette_image(), Image.fromarray(np.full((12, 12), 1000, np.uint16))]):
        paths.append(str(tmp_path / f"{i}.png"))
        img.save(paths[-1])
    rgb(70, 33, 17).save(tmp_path / "j.jpeg")
    paths.append(str(tmp_path / "j.jpeg"))
    x = load_images(paths, SIZE, cache_dir=None, name="mixed")
    assert x.shape == (len(paths), *SIZE, 3) and x.dtype == np.uint8
    assert (x[1] == 90).all()
    assert (x[2] == [1, 2, 3]).all()


def _truncated_jpeg(path: Path) -> Path:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_jpeg_raises_naming_the_file(tmp_path):
    p = _truncated_jpeg(tmp_path / "cut.jpg")
    with pytest.raises(CompError) as e:
        decode_image(p, SIZE)
    assert str(p) in str(e.value) and "cannot decode image" in str(e.value)


def test_garbage_bytes_raise_naming_the_file(tmp_path):
    p = tmp_path / "garbage.jpg"
    p.write_bytes(b"this is not a jpeg at all" * 10)
    with pytest.raises(CompError, match=r"garbage\.jpg: cannot decode image"):
        decode_image(p, SIZE)


def test_zero_byte_file_raises_naming_the_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(CompError) as e:
        decode_image(p, SIZE)
    assert f"{p}: cannot decode image (empty file)" == str(e.value)


def test_missing_file_raises_naming_the_file(tmp_path):
    with pytest.raises(CompError, match=r"gone\.png: image file not found"):
        decode_image(tmp_path / "gone.png", SIZE)


# --------------------------------------------------------------------------- the cache


@pytest.fixture
def pngs(tmp_path) -> list[str]:
    paths = []
    for i in range(5):
        paths.append(str(tmp_path / "img" / f"{i}.png"))
        Path(paths[-1]).parent.mkdir(exist_ok=True)
        rgb(i * 40, 6, 6).save(paths[-1])
    return paths


def _forbid_decoding(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("decode_all was called although the cache is current")

    monkeypatch.setattr(images_mod, "decode_all", fail)


def test_cache_is_written_and_reused_when_files_are_unchanged(tmp_path, pngs, monkeypatch):
    cache = tmp_path / "cache"
    first = load_images(pngs, (8, 8), cache, "train")
    npy = cache / "train-8x8.npy"
    assert npy.is_file() and npy.with_suffix(".json").is_file()
    assert [x.mean() for x in first] == [0, 40, 80, 120, 160]
    mtime = npy.stat().st_mtime_ns

    _forbid_decoding(monkeypatch)
    again = load_images(pngs, (8, 8), cache, "train")
    assert isinstance(again, np.memmap)  # read from disk, memory-mapped
    np.testing.assert_array_equal(again, first)
    assert npy.stat().st_mtime_ns == mtime


def test_cache_is_rebuilt_when_a_file_changes(tmp_path, pngs):
    cache = tmp_path / "cache"
    load_images(pngs, (8, 8), cache, "train")
    rgb(250, 6, 6).save(pngs[2])
    st = os.stat(pngs[2])
    os.utime(pngs[2], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # whatever the clock's resolution
    again = load_images(pngs, (8, 8), cache, "train")
    assert again[2].mean() == 250
    assert again[1].mean() == 40


def test_cache_is_rebuilt_for_another_size_or_file_list(tmp_path, pngs):
    cache = tmp_path / "cache"
    load_images(pngs, (8, 8), cache, "train")
    assert load_images(pngs, (12, 12), cache, "train").shape == (5, 12, 12, 3)
    assert load_images(pngs[:3], (8, 8), cache, "train").shape == (3, 8, 8, 3)


@pytest.mark.parametrize("keep", [0, 5, 60, 0.5, -1], ids=["zero-bytes", "5-bytes", "60-bytes", "half", "last-byte-missing"])
def test_damaged_cache_is_rebuilt(tmp_path, pngs, keep):
    cache = tmp_path / "cache"
    first = np.array(load_images(pngs, (8, 8), cache, "train"))
    npy = cache / "train-8x8.npy"
    data = npy.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    npy.write_bytes(data[:cut])  # a truncated cache file
    again = load_images(pngs, (8, 8), cache, "train")
    np.testing.assert_array_equal(again, first)
    assert npy.stat().st_size == len(data)


def test_cache_of_garbage_bytes_is_rebuilt(tmp_path, pngs):
    cache = tmp_path / "cache"
    first = np.array(load_images(pngs, (8, 8), cache, "train"))
    npy = cache / "train-8x8.npy"
    npy.write_bytes(b"x" * npy.stat().st_size)
    np.testing.assert_array_equal(load_images(pngs, (8, 8), cache, "train"), first)


@pytest.mark.parametrize("same_mtime", [False, True], ids=["touched", "mtime-put-back"])
def test_a_cache_whose_pixels_were_overwritten_is_rebuilt(tmp_path, pngs, same_mtime):
    """Header, size, count and fingerprint intact, pixels changed: decoded again, not trained on."""
    cache = tmp_path / "cache"
    first = np.array(load_images(pngs, (8, 8), cache, "train"))
    npy = cache / "train-8x8.npy"
    st = npy.stat()
    damaged = np.load(npy, mmap_mode="r+")
    damaged[1:3] = 7  # another process, or a bad disk, wrote into the payload
    damaged.flush()
    del damaged
    if same_mtime:  # a copy that kept the old time: the content check still tells
        os.utime(npy, ns=(st.st_atime_ns, st.st_mtime_ns))
    np.testing.assert_array_equal(load_images(pngs, (8, 8), cache, "train"), first)


@pytest.mark.parametrize("text", [
    "{not json", "", "[]",
], ids=["invalid-json", "empty", "json-list"])
def test_damaged_cache_metadata_is_rebuilt(tmp_path, pngs, text):
    cache = tmp_path / "cache"
    first = np.array(load_images(pngs, (8, 8), cache, "train"))
    (cache / "train-8x8.json").write_text(text)
    again = load_images(pngs, (8, 8), cache, "train")
    np.testing.assert_array_equal(again, first)


def test_failed_decode_leaves_no_temporary_or_cache_files(tmp_path, pngs):
    cache = tmp_path / "cache"
    bad = _truncated_jpeg(tmp_path / "img" / "bad.jpg")
    with pytest.raises(CompError) as e:
        load_images(pngs + [str(bad)], (8, 8), cache, "train")
    assert str(bad) in str(e.value)
    leftovers = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
    assert leftovers == []


def test_failed_decode_keeps_an_older_good_cache_untouched(tmp_path, pngs):
    cache = tmp_path / "cache"
    load_images(pngs, (8, 8), cache, "train")
    before = sorted(p.name for p in cache.iterdir())
    bad = tmp_path / "img" / "zero.png"
    bad.write_bytes(b"")
    with pytest.raises(CompError, match="empty file"):
        load_images(pngs + [str(bad)], (8, 8), cache, "train")
    assert sorted(p.name for p in cache.iterdir()) == before == ["train-8x8.json", "train-8x8.npy"]


def test_missing_file_in_the_list_is_an_error(tmp_path, pngs):
    with pytest.raises(CompError, match=r"nope\.png: image file not found"):
        load_images(pngs + [str(tmp_path / "nope.png")], (8, 8), tmp_path / "cache", "train")


def test_cache_is_rebuilt_when_the_decoder_changes(tmp_path, pngs, monkeypatch):
    """A cache decoded by another decoder (older code, another Pillow) is not trained on."""
    cache = tmp_path / "cache"
    load_images(pngs, (8, 8), cache, "train")
    monkeypatch.setattr(images_mod, "decoder_identity", lambda: "another decoder")
    calls = []
    decode = images_mod.decode_all
    monkeypatch.setattr(images_mod, "decode_all", lambda *a, **k: (calls.append(a[0]), decode(*a, **k)))
    again = load_images(pngs, (8, 8), cache, "train")
    assert calls == [pngs] and [x.mean() for x in again] == [0, 40, 80, 120, 160]


def test_the_decoder_identity_names_the_code_and_pillow(monkeypatch):
    from comp.data import decode

    first = decode.decoder_identity()
    assert len(first) == 16 and first == decode.decoder_identity()
    decode.decoder_identity.cache_clear()
    monkeypatch.setattr(decode.PIL, "__version__", "0.0-other")
    try:
        assert decode.decoder_identity() != first
    finally:
        decode.decoder_identity.cache_clear()
