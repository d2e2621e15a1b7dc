"""TTA levels: the views (flips, one-pixel shifts with mirrored borders, centre crops) and their weights."""

from __future__ import annotations

import numpy as np
import pytest

from comp.errors import CompError
from comp.predict.probs import predict_proba
from comp.config.recipe import load_recipe
from comp.predict.tta import TTA_LEVELS, tta_views


def images(n=3, h=5, w=6):
    return np.random.default_rng(0).integers(0, 256, (n, h, w, 3)).astype(np.uint8)


def expected_views(x):
    x = x.astype(np.float32)
    flip = x[:, :, ::-1]
    pad = lambda a: np.pad(a, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")  # noqa: E731
    h, w = x.shape[1:3]
    down_right = lambda a: pad(a)[:, 2:2 + h, 2:2 + w]  # noqa: E731  (view pixel (0, 0) is the image's (1, 1))
    up_left = lambda a: pad(a)[:, 0:h, 0:w]  # noqa: E731
    zoom = lambda a: centre_crop(a, 0.875)  # noqa: E731
    return {"none": [x], "flip": [x, flip],
            "flip-shift": [x, flip, down_right(x), up_left(x), down_right(flip), up_left(flip)],
            "flip-zoom": [x, flip, zoom(x), zoom(flip)]}


def centre_crop(x: np.ndarray, fraction: float) -> np.ndarray:
    """numpy reference: the centre ``fraction`` of each side (pixel centres from ``off`` to
    ``off + fraction * side - 1``), sampled bilinearly back at the image's H x W."""
    def axis(size):
        off = (1 - fraction) * size / 2
        pos = np.linspace(off, off + max(fraction * size - 1, 0), size)
        lo = np.clip(np.floor(pos).astype(int), 0, size - 1)
        return lo, np.minimum(lo + 1, size - 1), pos - lo

    (y0, y1, wy), (x0, x1, wx) = axis(x.shape[1]), axis(x.shape[2])
    x = x.astype(np.float64)
    rows = x[:, y0] * (1 - wy)[None, :, None, None] + x[:, y1] * wy[None, :, None, None]
    return rows[:, :, x0] * (1 - wx)[None, None, :, None] + rows[:, :, x1] * wx[None, None, :, None]


@pytest.mark.parametrize("level", TTA_LEVELS)
def test_tta_views_are_flips_shifts_and_zooms_with_weights_summing_to_one(level):
    x = images()
    views = tta_views(level)
    for (view, _), want in zip(views, expected_views(x)[level], strict=True):
        np.testing.assert_allclose(np.asarray(view(x.astype(np.float32))), want, atol=1e-3)
    assert sum(w for _, w in views) == pytest.approx(1.0)


def test_the_centre_crop_view_keeps_the_middle_of_a_32_pixel_image():
    x = images(2, 32, 32)
    (view, _), = [(v, w) for v, w in tta_views("none", crop=0.875)]
    out = np.asarray(view(x.astype(np.float32)))  # 28 pixels kept, 2 off each side: 2, 2 + 27/31, ...
    np.testing.assert_allclose(out, centre_crop(x, 0.875), atol=1e-3)
    np.testing.assert_allclose(out[:, 0, 0], x[:, 2, 2], atol=1e-3)
    np.testing.assert_allclose(out[:, -1, -1], x[:, 29, 29], atol=1e-3)


@pytest.mark.parametrize("level", TTA_LEVELS)
def test_predict_crop_is_folded_into_every_view(level):
    x = images(2, 16, 16).astype(np.float32)
    crop = 0.75
    cropped = centre_crop(x, crop).astype(np.float32)
    plain, folded = tta_views(level), tta_views(level, crop=crop)
    assert [w for _, w in plain] == [w for _, w in folded]
    for (view, _), (crop_view, _) in zip(plain, folded, strict=True):
        keep = getattr(view, "keep", None)
        if keep is None:  # the view of the centre crop
            want = np.asarray(view(cropped))
        else:  # a zoomed view crops once, by the product of both fractions
            want = centre_crop(x[:, :, ::-1] if view.mirror else x, keep * crop)
        np.testing.assert_allclose(np.asarray(crop_view(x)), want, atol=1e-3)


def test_flip_zoom_weighs_its_four_views_alike():
    assert [w for _, w in tta_views("flip-zoom")] == [0.25, 0.25, 0.25, 0.25]


@pytest.mark.parametrize("crop", [0.0, 1.5, -0.2])
def test_an_out_of_range_predict_crop_names_the_key_and_the_range(crop):
    with pytest.raises(CompError, match=r"predict\.crop must be in \(0, 1\]\. Received: predict\.crop="):
        tta_views("flip", crop=crop)
    with pytest.raises(CompError, match=r"predict\.crop must be in \(0, 1\]\. Received: predict\.crop="):
        load_recipe("fast", [f"predict.crop={crop}"])


def test_flip_shift_weighs_the_unshifted_pair_as_much_as_the_four_shifted_views():
    weights = [w for _, w in tta_views("flip-shift")]
    assert weights == [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]


@pytest.mark.parametrize("level", ["flip-shift", "flip-zoom"])
def test_predict_proba_is_the_weighted_mean_of_the_views_softmax(level):
    from comp.tf_quiet import keras

    x = images(n=4, h=4, w=4)
    # logits from single pixels: every view gives different probabilities
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Lambda(
        lambda a: keras.ops.stack([a[:, 0, 0, 0], a[:, 0, 3, 1], a[:, 3, 1, 2]], axis=1) / 64.0)])
    probs = predict_proba(model, x, level, batch_size=3)

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    want = sum(w * softmax(model.predict(view, verbose=0))
               for view, (_, w) in zip(expected_views(x)[level], tta_views(level)))
    np.testing.assert_allclose(probs, want, rtol=1e-5 if level == "flip-shift" else 1e-4)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert not np.allclose(probs, predict_proba(model, x, "none"))


def test_an_unknown_tta_level_names_the_accepted_ones():
    with pytest.raises(CompError, match="flip-shift"):
        tta_views("rotate")
