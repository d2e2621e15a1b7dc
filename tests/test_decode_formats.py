"""comp.data.decode: .npy arrays and DICOM files decode to the same uint8 RGB images as the other
formats, normalised from their own min..max (uint8 kept), with DICOM's rescale, window and
MONOCHROME1 applied so that bright is high."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import comp.data.decode as decode_mod
from comp.data.checks import IMAGE, entry_kind
from comp.data.decode import decode_all, decode_image
from comp.errors import CompError


def npy(tmp_path, array, name="img.npy"):
    path = tmp_path / name
    with open(path, "wb") as f:  # np.save(path) would add ".npy" to "a.NPY"
        np.save(f, array, allow_pickle=True)
    return path


def gray(out: np.ndarray) -> np.ndarray:
    """The one channel of a decoded gray image (checking all three are equal)."""
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert (out == out[..., :1]).all()
    return out[..., 0]


def one_line_error(call, *needles: str) -> str:
    with pytest.raises(CompError) as err:
        call()
    text = str(err.value)
    assert "\n" not in text and all(n in text for n in needles), text
    return text


def test_uint8_arrays_are_kept_as_they_are(tmp_path):
    rng = np.random.default_rng(0)
    flat = rng.integers(10, 200, (5, 7), dtype=np.uint8)  # not stretched to 0..255
    np.testing.assert_array_equal(gray(decode_image(npy(tmp_path, flat), (5, 7))), flat)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(npy(tmp_path, rgb, "rgb.npy"), (5, 7)), rgb)
    np.testing.assert_array_equal(gray(decode_image(npy(tmp_path, flat[..., None], "c1.npy"), (5, 7))), flat)


def test_uint16_is_scaled_from_its_min_to_its_max(tmp_path):
    a = np.array([[1000, 2000], [3000, 5000]], np.uint16)
    expected = np.rint((a - 1000) / 4000 * 255).astype(np.uint8)  # 0, 64, 128, 255
    np.testing.assert_array_equal(gray(decode_image(npy(tmp_path, a), (2, 2))), expected)


def test_float_rgb_is_scaled_over_all_channels_together(tmp_path):
    a = np.zeros((2, 3, 3), np.float32)
    a[0, 0] = [-1.0, 0.0, 1.0]  # the image's min and max
    a[1, 2] = [0.5, 0.5, 0.5]
    out = decode_image(npy(tmp_path, a), (2, 3))
    np.testing.assert_array_equal(out[0, 0], [0, 128, 255])  # not stretched per channel
    np.testing.assert_array_equal(out[1, 2], [191, 191, 191])
    np.testing.assert_array_equal(out[0, 1], [128, 128, 128])


def test_float_gray_signed_ints_and_constants(tmp_path):
    np.testing.assert_array_equal(gray(decode_image(npy(tmp_path, np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)),
                                                    (2, 2))), [[0, 64], [128, 255]])
    hu = np.array([[-1024, 0], [1000, 3071]], np.int16)  # CT, Hounsfield units
    np.testing.assert_array_equal(gray(decode_image(npy(tmp_path, hu, "hu.npy"), (2, 2))),
                                  np.rint((hu + 1024) / 4095 * 255))
    assert (decode_image(npy(tmp_path, np.full((3, 3), 7.5), "flat.npy"), (3, 3)) == 0).all()
    np.testing.assert_array_equal(gray(decode_image(npy(tmp_path, np.eye(2, dtype=bool), "mask.npy"), (2, 2))),
                                  [[255, 0], [0, 255]])


def test_rgba_arrays_are_composited_over_black_and_resized(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0], a[..., 3] = 200, 255
    a[:2, :, 3] = 0  # the top half transparent
    out = decode_image(npy(tmp_path, a), (4, 4))
    assert (out[:2] == 0).all() and (out[2:] == [200, 0, 0]).all()
    assert decode_image(npy(tmp_path, np.arange(64, dtype=np.uint16).reshape(8, 8), "big.npy"), (3, 5)).shape == (3, 5, 3)


@pytest.mark.parametrize("array, needles", [
    (np.array([[0.0, np.nan]], np.float32), ["NaN or infinity"]),
    (np.array([[0.0, np.inf]]), ["NaN or infinity"]),
    (np.zeros((2, 2, 2, 3), np.uint8), ["shape is (2, 2, 2, 3)", "(H, W) or (H, W, 1/3/4)"]),
    (np.zeros((2, 2, 2), np.uint8), ["shape is (2, 2, 2)"]),
    (np.zeros((0, 2), np.uint8), ["shape is (0, 2)"]),
    (np.zeros(5, np.uint8), ["shape is (5,)"]),
    (np.zeros((2, 2), np.complex64), ["dtype is complex64", "not a number"]),
    (np.array([["a", "b"]]), ["dtype is <U1", "not a number"]),
    (np.array([[object(), None]], dtype=object), ["dtype is object", "not a number"]),
])
def test_bad_arrays_are_refused_with_one_line(tmp_path, array, needles):
    path = npy(tmp_path, array)
    one_line_error(lambda: decode_image(path, (2, 2)), str(path), *needles)


def test_a_file_that_is_not_an_array_is_one_line(tmp_path):
    path = tmp_path / "img.npy"
    path.write_bytes(b"\x89PNG not an array")
    one_line_error(lambda: decode_image(path, (2, 2)), str(path), "cannot read the .npy array")
    one_line_error(lambda: decode_image(tmp_path / "gone.npy", (2, 2)), "gone.npy", "not found")


def test_arrays_and_dicom_are_image_files_and_decode_in_threads(tmp_path, monkeypatch):
    assert entry_kind(npy(tmp_path, np.zeros((2, 2), np.uint8), "a.NPY")) == IMAGE
    (tmp_path / "b.dcm").write_bytes(b"")
    assert entry_kind(tmp_path / "b.dcm") == IMAGE
    monkeypatch.setattr(decode_mod.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    small, big = npy(tmp_path, np.zeros((8, 8), np.uint8), "s.npy"), npy(tmp_path, np.zeros((200, 200), np.uint8), "b.npy")
    assert decode_mod.default_workers([str(small)]) == 1 and decode_mod.default_workers([str(big)]) == 4
    paths = [str(npy(tmp_path, np.full((6, 6), i, np.uint8), f"{i}.npy")) for i in range(5)]
    out = np.zeros((5, 4, 4, 3), np.uint8)
    decode_all(paths, (4, 4), out, workers=2)
    assert [int(img[0, 0, 0]) for img in out] == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- DICOM

RAMP = np.arange(0, 4000, 250, dtype=np.uint16).reshape(4, 4)  # brightest bottom right


def dicom(path, pixels: np.ndarray, photometric: str = "MONOCHROME2", **tags):
    """A small uncompressed 16-bit grayscale DICOM file written with pydicom (frames first)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SamplesPerPixel, ds.PhotometricInterpretation = "CT", 1, photometric
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype("<u2").tobytes()
    try:
        ds.save_as(path, enforce_file_format=True)  # pydicom 3
    except TypeError:
        ds.save_as(path, write_like_original=False)  # pydicom 2.4
    return path


@pytest.fixture
def pydicom():
    return pytest.importorskip("pydicom")


def test_monochrome2_with_a_rescale_keeps_bright_high(tmp_path, pydicom):
    path = dicom(tmp_path / "ct.dcm", RAMP, RescaleSlope=2, RescaleIntercept=-1024)
    out = gray(decode_image(path, (4, 4)))
    assert out[0, 0] == 0 and out[3, 3] == 255 and (np.diff(out.ravel().astype(int)) > 0).all()
    np.testing.assert_array_equal(out, np.rint(RAMP / RAMP.max() * 255))  # linear rescale: min..max unchanged


def test_a_negative_slope_is_applied(tmp_path, pydicom):
    out = gray(decode_image(dicom(tmp_path / "neg.dcm", RAMP, RescaleSlope=-1, RescaleIntercept=0), (4, 4)))
    assert out[0, 0] == 255 and out[3, 3] == 0


def test_monochrome1_is_inverted(tmp_path, pydicom):
    out = gray(decode_image(dicom(tmp_path / "xray.dcm", RAMP, "MONOCHROME1"), (4, 4)))
    assert out[0, 0] == 255 and out[3, 3] == 0  # a high value is dark in MONOCHROME1
    np.testing.assert_array_equal(out, 255 - np.rint(RAMP / RAMP.max() * 255))


def test_the_window_is_applied(tmp_path, pydicom):
    out = gray(decode_image(dicom(tmp_path / "win.dcm", RAMP, WindowCenter=2000, WindowWidth=1000), (4, 4)))
    inside = (RAMP > 1550) & (RAMP < 2450)
    assert (out[RAMP <= 1500] == 0).all() and (out[RAMP >= 2500] == 255).all()
    assert ((out[inside] > 0) & (out[inside] < 255)).all()


def test_a_multiframe_file_gives_its_first_frame(tmp_path, pydicom):
    frames = np.stack([RAMP, RAMP[::-1]])
    out = gray(decode_image(dicom(tmp_path / "cine.dcm", frames), (4, 4)))
    assert out[0, 0] == 0 and out[3, 3] == 255
    assert decode_mod.pixel_count(tmp_path / "cine.dcm") == 16


def test_dicom_failures_are_one_line(tmp_path, pydicom, monkeypatch):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not a dicom file at all")
    one_line_error(lambda: decode_image(bad, (4, 4)), str(bad), "cannot read the DICOM image")
    monkeypatch.setitem(sys.modules, "pydicom", None)  # as if the extra were not installed
    good = dicom(tmp_path / "ct.dcm", RAMP)
    one_line_error(lambda: decode_image(good, (4, 4)), str(good), "pip install 'comp[dicom]'")
