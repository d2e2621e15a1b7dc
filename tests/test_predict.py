"""TTA levels: the views (flips, one-pixel shifts with mirrored borders) and their weights."""

from __future__ import annotations

import numpy as np
import pytest

from comp.errors import CompError
from comp.predict import predict_proba
from comp.tta import TTA_LEVELS, tta_views


def images(n=3, h=5, w=6):
    return np.random.default_rng(0).integers(0, 256, (n, h, w, 3)).astype(np.uint8)


def expected_views(x):
    x = x.astype(np.float32)
    flip = x[:, :, ::-1]
    pad = lambda a: np.pad(a, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")  # noqa: E731
    h, w = x.shape[1:3]
    down_right = lambda a: pad(a)[:, 2:2 + h, 2:2 + w]  # noqa: E731  (view pixel (0, 0) is the image's (1, 1))
    up_left = lambda a: pad(a)[:, 0:h, 0:w]  # noqa: E731
    return {"none": [x], "flip": [x, flip],
            "flip-shift": [x, flip, down_right(x), up_left(x), down_right(flip), up_left(flip)]}


@pytest.mark.parametrize("level", TTA_LEVELS)
def test_tta_views_are_flips_and_mirrored_one_pixel_shifts_with_weights_summing_to_one(level):
    x = images()
    views = tta_views(level)
    for (view, _), want in zip(views, expected_views(x)[level], strict=True):
        np.testing.assert_array_equal(np.asarray(view(x.astype(np.float32))), want)
    assert sum(w for _, w in views) == pytest.approx(1.0)


def test_flip_shift_weighs_the_unshifted_pair_as_much_as_the_four_shifted_views():
    weights = [w for _, w in tta_views("flip-shift")]
    assert weights == [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]


def test_predict_proba_is_the_weighted_mean_of_the_views_softmax():
    from comp.tf_quiet import keras

    x = images(n=4, h=4, w=4)
    # logits from single pixels: every view gives different probabilities
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Lambda(
        lambda a: keras.ops.stack([a[:, 0, 0, 0], a[:, 0, 3, 1], a[:, 3, 1, 2]], axis=1) / 64.0)])
    probs = predict_proba(model, x, "flip-shift", batch_size=3)

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    want = sum(w * softmax(model.predict(view, verbose=0))
               for view, (_, w) in zip(expected_views(x)["flip-shift"], tta_views("flip-shift")))
    np.testing.assert_allclose(probs, want, rtol=1e-5)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert not np.allclose(probs, predict_proba(model, x, "none"))


def test_an_unknown_tta_level_names_the_accepted_ones():
    with pytest.raises(CompError, match="flip-shift"):
        tta_views("rotate")
