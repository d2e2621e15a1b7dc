"""comp.augment.transform: presets by name, per-batch seeding, in-graph ops, mixup/cutmix soft targets."""

from __future__ import annotations

import numpy as np
import pytest

from comp.augment.transform import (BatchAugmenter, alternating_flip, create_preset, cutmix, list_presets, make_train_transform,
                          mixup, random_cutout, random_flip, random_translate)
from comp.augment.ops import (adjust_color, affine_transform, centre_crop, random_affine, random_color_jitter,
                              random_erase, random_resized_crop, resized_crop, sample_boxes)
from comp.errors import CompError
from comp.config.recipe import AugmentCfg, load_recipe
from comp.tf_quiet import tf


def batch(n=8, h=16, w=16, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def seed(a, b=0):
    return tf.constant([a, b], tf.int64)


# --------------------------------------------------------------------------- presets


def test_presets_are_registered_by_name():
    assert {"none", "light", "heavy"} <= set(list_presets())
    assert create_preset("none") is None


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_returns_uint8_of_the_same_shape(preset):
    images = batch(6, 12, 20)
    out = BatchAugmenter(preset, seed=1)(images, 0, 0)
    assert out.dtype == np.uint8
    assert out.shape == images.shape


@pytest.mark.parametrize("preset", [p for p in list_presets() if p != "none"])
def test_preset_in_graph_keeps_dtype_and_static_shape(preset):
    aug = BatchAugmenter(preset, seed=1)
    images = tf.constant(batch(4, 12, 12))
    out = aug.tf(images, tf.constant(0, tf.int64), tf.constant(3, tf.int64))
    assert out.dtype == tf.uint8 and out.shape == (4, 12, 12, 3)


def test_batch_augmenter_is_deterministic_per_seed_epoch_and_step():
    images = batch()
    aug = BatchAugmenter("heavy", seed=5)
    a = aug(images, 0, 0)
    np.testing.assert_array_equal(a, aug(images, 0, 0))
    np.testing.assert_array_equal(a, BatchAugmenter("heavy", seed=5)(images, 0, 0))  # a fresh instance
    assert not np.array_equal(a, aug(images, 0, 1))  # next step
    assert not np.array_equal(a, aug(images, 1, 0))  # next epoch
    assert not np.array_equal(a, BatchAugmenter("heavy", seed=6)(images, 0, 0))  # another seed


def test_batch_augmenter_leaves_the_input_unchanged():
    images = batch()
    copy = images.copy()
    BatchAugmenter("heavy", seed=0)(images, 0, 0)
    np.testing.assert_array_equal(images, copy)


@pytest.mark.parametrize("make", [lambda: create_preset("hevy"), lambda: BatchAugmenter("hevy", 0),
                                  lambda: make_train_transform(AugmentCfg(preset="hevy"), 3, 0, 2)])
def test_unknown_preset_suggests_the_closest(make):
    with pytest.raises(CompError) as e:
        make()
    msg = str(e.value)
    assert "unknown augment.preset 'hevy'" in msg
    assert "Did you mean 'heavy'?" in msg


# --------------------------------------------------------------------------- in-graph per-sample ops


def test_random_translate_moves_content_within_pad_and_keeps_shape():
    pad, n = 2, 16
    img = np.zeros((n, 9, 9, 3), np.uint8)
    img[:, 4, 4] = 255  # one bright pixel in the centre
    out = random_translate(tf.constant(img), pad, seed(3)).numpy()
    assert out.shape == img.shape and out.dtype == np.uint8
    moves = []
    for o in out:
        ys, xs = np.nonzero(o[..., 0])
        assert len(ys) == 1  # moved, not smeared or lost
        moves.append((ys[0] - 4, xs[0] - 4))
    assert all(abs(dy) <= pad and abs(dx) <= pad for dy, dx in moves)
    assert any(m != (0, 0) for m in moves)
    assert len(set(moves)) > 1  # each image has its own shift


def test_random_translate_fills_with_zeros():
    out = random_translate(tf.fill([32, 8, 8, 3], tf.constant(9, tf.uint8)), 3, seed(1)).numpy()
    assert set(np.unique(out).tolist()) <= {0, 9}
    assert (out == 0).any()


def test_random_translate_reflect_matches_numpy_reflect_padding():
    pad, n = 2, 24
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (n, 7, 6, 3), dtype=np.uint8)
    out = random_translate(tf.constant(img), pad, seed(5), fill="reflect").numpy()
    assert out.shape == img.shape and out.dtype == np.uint8
    seen = set()
    for o, i in zip(out, img):
        padded = np.pad(i, [(pad, pad), (pad, pad), (0, 0)], mode="reflect")  # REFLECT_101
        crops = {(y, x): padded[y:y + 7, x:x + 6] for y in range(2 * pad + 1) for x in range(2 * pad + 1)}
        match = [k for k, c in crops.items() if np.array_equal(c, o)]
        assert match, "not a crop of the reflect-padded image"
        seen.add(match[0])
    assert len(seen) > 3  # each image has its own shift


def test_unknown_translate_fill_is_rejected():
    with pytest.raises(CompError, match=r"augment.translate_fill.*reflect"):
        load_recipe("fast", ["augment.translate_fill=wrap"])


def test_random_translate_with_zero_pad_is_the_identity():
    images = tf.constant(batch(2, 8, 8))
    np.testing.assert_array_equal(random_translate(images, 0, seed(0)).numpy(), images.numpy())


def test_random_flip_flips_some_images_left_right():
    images = batch(32, 6, 6)
    out = random_flip(tf.constant(images), seed(2)).numpy()
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    kept = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert any(flipped) and any(kept)


def test_random_cutout_zeroes_a_square_and_keeps_shape():
    images = np.full((8, 16, 16, 3), 100, np.uint8)
    out = random_cutout(tf.constant(images), 6, seed(4)).numpy()
    assert out.shape == images.shape and out.dtype == np.uint8
    for o in out:
        zeros = (o[..., 0] == 0).sum()
        assert 0 < zeros <= 6 * 6


# --------------------------------------------------------------------------- mixing


def _onehot(labels, c):
    return tf.one_hot(labels, c, dtype=tf.float32)


@pytest.mark.parametrize("fn, alpha", [(mixup, 0.2), (mixup, 1.0), (cutmix, 1.0), (cutmix, 0.4)])
def test_soft_targets_sum_to_one_and_lie_in_0_1(fn, alpha):
    images = tf.constant(batch(8, 12, 12))
    targets = _onehot(tf.constant([0, 1, 2, 3, 4, 0, 1, 2]), 5)
    mixed, soft = fn(images, targets, alpha, seed(11))
    mixed, soft = mixed.numpy(), soft.numpy()
    assert mixed.dtype == np.float32 and mixed.shape == (8, 12, 12, 3)
    assert soft.dtype == np.float32 and soft.shape == (8, 5)
    assert mixed.min() >= 0 and mixed.max() <= 255
    np.testing.assert_allclose(soft.sum(1), 1.0, atol=1e-5)
    assert soft.min() >= 0 and soft.max() <= 1 + 1e-6


def test_mixup_targets_match_the_image_mixing_weight():
    n = 4
    images = tf.constant(np.stack([np.full((4, 4, 3), 40 * (i + 1), np.uint8) for i in range(n)]))
    targets = _onehot(tf.range(n), n)
    mixed, soft = mixup(images, targets, 1.0, seed(5))
    for i in range(n):
        partner = n - 1 - i
        lam = soft.numpy()[i, i]
        expected = lam * 40 * (i + 1) + (1 - lam) * 40 * (partner + 1)
        np.testing.assert_allclose(mixed.numpy()[i], expected, rtol=1e-5)
        assert soft.numpy()[i, partner] == pytest.approx(1 - lam, abs=1e-6)


@pytest.mark.parametrize("s", range(4))
def test_cutmix_label_weight_equals_the_pasted_area(s):
    n, h, w = 6, 16, 12
    images = tf.constant(np.stack([np.full((h, w, 3), 30 * (i + 1), np.uint8) for i in range(n)]))
    targets = _onehot(tf.range(n), n)  # image i has class i; its partner is n - 1 - i
    mixed, soft = cutmix(images, targets, 1.0, seed(s, 99))
    mixed, soft = mixed.numpy(), soft.numpy()
    areas = []
    for i in range(n):
        partner = n - 1 - i
        pasted = (mixed[i, ..., 0] == 30 * (partner + 1)).mean()
        kept = (mixed[i, ..., 0] == 30 * (i + 1)).mean()
        assert pasted + kept == pytest.approx(1.0)
        assert soft[i, partner] == pytest.approx(pasted, abs=1e-6)
        assert soft[i, i] == pytest.approx(kept, abs=1e-6)
        areas.append(pasted)
    assert any(0 < a < 1 for a in areas)


# --------------------------------------------------------------------------- the training transform


def _run(transform, images, labels, epoch=0, step=0):
    x, y = transform(tf.constant(images), tf.constant(labels, tf.int32),
                     tf.constant(epoch, tf.int64), tf.constant(step, tf.int64))
    return x.numpy(), y.numpy()


def test_train_transform_outputs_float32_images_and_soft_targets():
    cfg = AugmentCfg(preset="heavy", flip=True, translate=2, cutout=4, mixup_alpha=0.2, cutmix_alpha=1.0)
    transform = make_train_transform(cfg, num_classes=3, seed=0, epochs=4)
    images, labels = batch(8, 12, 12), np.arange(8) % 3
    x, y = _run(transform, images, labels)
    assert x.dtype == np.float32 and x.shape == (8, 12, 12, 3)
    assert y.dtype == np.float32 and y.shape == (8, 3)
    assert x.min() >= 0 and x.max() <= 255
    np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-5)


def test_train_transform_is_a_function_of_seed_epoch_and_step():
    cfg = AugmentCfg(preset="light", flip=True, translate=2, mixup_alpha=0.4)
    images, labels = batch(8, 12, 12), np.arange(8) % 3
    t1 = make_train_transform(cfg, 3, seed=2, epochs=4)
    t2 = make_train_transform(cfg, 3, seed=2, epochs=4)
    a = _run(t1, images, labels, 1, 5)
    b = _run(t2, images, labels, 1, 5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], _run(t1, images, labels, 1, 6)[0])


def test_train_transform_without_mixing_gives_one_hot_targets():
    transform = make_train_transform(AugmentCfg(preset="none"), num_classes=4, seed=0, epochs=2)
    images, labels = batch(5, 8, 8), np.array([0, 1, 2, 3, 1])
    x, y = _run(transform, images, labels)
    np.testing.assert_array_equal(x, images.astype(np.float32))
    np.testing.assert_array_equal(y, np.eye(4, dtype=np.float32)[labels])


def test_no_mixing_in_the_last_mix_off_epochs():
    cfg = AugmentCfg(preset="none", mixup_alpha=1.0, mix_off_epochs=2)
    transform = make_train_transform(cfg, num_classes=4, seed=0, epochs=5)
    images, labels = batch(8, 8, 8), np.arange(8) % 4
    onehot = np.eye(4, dtype=np.float32)[labels]
    _, mixed = _run(transform, images, labels, epoch=2)
    assert not np.array_equal(mixed, onehot)
    for epoch in (3, 4):
        x, y = _run(transform, images, labels, epoch=epoch)
        np.testing.assert_array_equal(y, onehot)
        np.testing.assert_array_equal(x, images.astype(np.float32))


def test_alternating_flip_shows_every_image_both_ways_in_each_pair_of_epochs():
    images = batch(64, 6, 6)
    index = tf.range(1000, 1064)
    views = [alternating_flip(tf.constant(images), index, tf.constant(e, tf.int64), seed=3).numpy() for e in range(3)]
    flipped = [np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(v, images)]) for v in views]
    assert np.all(flipped[0] != flipped[1])  # the opposite way in the next epoch
    np.testing.assert_array_equal(flipped[0], flipped[2])  # and the same coin two epochs on
    assert 0.3 < flipped[0].mean() < 0.7  # a coin, not all or nothing
    other_seed = alternating_flip(tf.constant(images), index, tf.constant(0, tf.int64), seed=4).numpy()
    assert not np.array_equal(other_seed, views[0])


def test_train_transform_uses_the_alternating_flip_only_when_given_the_indices():
    images = tf.constant(batch(32, 6, 6))
    labels = tf.zeros([32], tf.int32)
    cfg = AugmentCfg(preset="none", flip=True, alternate_flip=True)
    transform = make_train_transform(cfg, num_classes=2, seed=0, epochs=2)
    index = tf.range(32)
    e0 = transform(images, labels, tf.constant(0, tf.int64), tf.constant(0, tf.int64), index)[0].numpy()
    e1 = transform(images, labels, tf.constant(1, tf.int64), tf.constant(5, tf.int64), index)[0].numpy()
    np.testing.assert_array_equal(e0[:, :, ::-1], e1)  # each image the other way round
    random_e0 = transform(images, labels, tf.constant(0, tf.int64), tf.constant(0, tf.int64))[0].numpy()
    assert random_e0.shape == e0.shape  # no indices (a plain call): the random flip, same shapes


# --------------------------------------------------------------------------- ops for large images


def np_resized_crop(img: np.ndarray, top: float, left: float, ch: float, cw: float) -> np.ndarray:
    """numpy reference: the crop whose pixel centres run from (top, left) to (top + ch - 1,
    left + cw - 1), in pixels, sampled bilinearly at the image's own H x W grid."""
    h, w = img.shape[:2]
    ys, xs = np.linspace(top, top + max(ch - 1, 0), h), np.linspace(left, left + max(cw - 1, 0), w)
    y0, x0 = np.clip(np.floor(ys).astype(int), 0, h - 1), np.clip(np.floor(xs).astype(int), 0, w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = img.astype(np.float64)
    rows = img[y0] * (1 - wy) + img[y1] * wy
    return rows[:, x0] * (1 - wx) + rows[:, x1] * wx


def test_random_resized_crop_with_scale_one_is_the_identity():
    images = batch(6, 12, 20)
    out = random_resized_crop(tf.constant(images), (1.0, 1.0), (0.75, 4 / 3), seed(1)).numpy()
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_array_equal(out, images.astype(np.float32))


@pytest.mark.parametrize("hw", [(24, 32), (32, 32), (40, 20)])
def test_crop_boxes_have_their_area_in_scale_their_aspect_in_ratio_and_fit(hw):
    h, w = hw
    boxes = sample_boxes(4000, (0.35, 1.0), (0.75, 4 / 3), hw, seed(7)).numpy()
    top, left, bh, bw = boxes.T
    area = bh * bw
    assert area.min() >= 0.35 - 1e-6 and area.max() <= 1.0 + 1e-6
    assert abs(area.mean() - 0.675) < 0.015  # uniform in [0.35, 1]: clipping keeps the area
    assert top.min() >= 0 and left.min() >= 0
    assert (top + bh).max() <= 1 + 1e-6 and (left + bw).max() <= 1 + 1e-6
    aspect = (bw * w) / (bh * h)
    clipped = (bh > 1 - 1e-5) | (bw > 1 - 1e-5)  # aspect pulled in so that the box fits
    assert aspect[~clipped].min() >= 0.75 - 1e-4 and aspect[~clipped].max() <= 4 / 3 + 1e-4
    if h == w:
        assert clipped.mean() < 0.5  # (a 2:1 image clips most boxes of aspect 3:4 or more)
    assert top.std() > 0.01 and left.std() > 0.01  # positions vary


def test_resized_crop_matches_a_numpy_bilinear_crop():
    h, w = 16, 20
    images = batch(3, h, w)
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.25, 0.1, 0.5, 0.6], [0.4, 0.5, 0.6, 0.5]], np.float32)
    out = resized_crop(tf.constant(images), tf.constant(boxes)).numpy()
    for o, img, (t, l, bh, bw) in zip(out, images, boxes):
        want = np_resized_crop(img, t * h, l * w, bh * h, bw * w)
        np.testing.assert_allclose(o, want, atol=1e-3)


def test_random_resized_crop_is_a_function_of_the_seed():
    images = tf.constant(batch(8, 16, 16))
    a = random_resized_crop(images, (0.2, 1.0), (0.75, 4 / 3), seed(3)).numpy()
    np.testing.assert_array_equal(a, random_resized_crop(images, (0.2, 1.0), (0.75, 4 / 3), seed(3)).numpy())
    assert not np.array_equal(a, random_resized_crop(images, (0.2, 1.0), (0.75, 4 / 3), seed(3, 1)).numpy())
    assert a.min() >= 0 and a.max() <= 255


def test_centre_crop_matches_numpy():
    images = batch(2, 32, 32)
    out = centre_crop(tf.constant(images), 0.875).numpy()
    for o, img in zip(out, images):  # 28 pixels kept, 2 off each side
        np.testing.assert_allclose(o, np_resized_crop(img, 2, 2, 28, 28), atol=1e-3)
    np.testing.assert_array_equal(centre_crop(tf.constant(images), 1.0).numpy(), images.astype(np.float32))


def test_affine_with_no_rotation_and_no_scale_is_the_identity():
    images = tf.constant(batch(4, 12, 10))
    np.testing.assert_array_equal(random_affine(images, 0.0, 0.0, seed(1)).numpy(), images.numpy())
    same = affine_transform(images, tf.zeros([4]), tf.ones([4])).numpy()
    np.testing.assert_allclose(same, images.numpy().astype(np.float32), atol=1e-3)


def test_affine_rotation_by_half_a_turn_reverses_both_axes_and_a_quarter_turn_is_rot90():
    images = batch(2, 9, 9)
    half = affine_transform(tf.constant(images), tf.fill([2], np.pi), tf.ones([2])).numpy()
    np.testing.assert_allclose(half, images[:, ::-1, ::-1].astype(np.float32), atol=1e-2)
    quarter = affine_transform(tf.constant(images), tf.fill([2], np.pi / 2), tf.ones([2])).numpy()
    rot = [np.rot90(images, k, axes=(1, 2)).astype(np.float32) for k in (1, -1)]
    assert any(np.allclose(quarter, r, atol=1e-2) for r in rot)


def test_affine_zoom_samples_towards_the_centre():
    h = w = 15
    images = batch(1, h, w)
    out = affine_transform(tf.constant(images), tf.zeros([1]), tf.constant([1.25])).numpy()[0]
    c = (h - 1) / 2  # the output pixel p shows the input at c + (p - c) / zoom
    want = np_resized_crop(images[0], c - c / 1.25, c - c / 1.25, 2 * c / 1.25 + 1, 2 * c / 1.25 + 1)
    np.testing.assert_allclose(out, want, atol=1e-2)


def test_random_affine_rotates_each_image_by_its_own_angle_within_range():
    images = tf.constant(batch(8, 16, 16))
    a = random_affine(images, 15.0, 0.1, seed(2)).numpy()
    assert a.shape == (8, 16, 16, 3) and a.min() >= 0 and a.max() <= 255
    np.testing.assert_array_equal(a, random_affine(images, 15.0, 0.1, seed(2)).numpy())
    assert not np.array_equal(a, random_affine(images, 15.0, 0.1, seed(2, 1)).numpy())


def np_adjust_color(img, b, c, s):
    gray = lambda a: a @ np.array([0.299, 0.587, 0.114])  # noqa: E731
    x = np.clip(img.astype(np.float64) * b, 0, 255)
    mean = gray(x).mean()
    x = np.clip((x - mean) * c + mean, 0, 255)
    g = gray(x)[..., None]
    return np.clip(g + (x - g) * s, 0, 255)


def test_adjust_color_matches_numpy():
    images = batch(3, 8, 8)
    b, c, s = np.array([0.7, 1.0, 1.3]), np.array([1.2, 0.6, 1.0]), np.array([0.5, 1.4, 0.0])
    out = adjust_color(tf.constant(images), *(tf.constant(v, tf.float32) for v in (b, c, s))).numpy()
    for o, img, *f in zip(out, images, b, c, s):
        np.testing.assert_allclose(o, np_adjust_color(img, *f), atol=1e-2)


def test_color_jitter_keeps_0_255_and_strength_zero_is_the_identity():
    images = tf.constant(batch(16, 8, 8))
    np.testing.assert_array_equal(random_color_jitter(images, 0.0, seed(1)).numpy(), images.numpy())
    out = random_color_jitter(images, 1.0, seed(1)).numpy()
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
    assert not np.allclose(out, images.numpy())
    np.testing.assert_array_equal(out, random_color_jitter(images, 1.0, seed(1)).numpy())


@pytest.mark.parametrize("fill", ["zeros", "noise"])
def test_random_erase_changes_the_expected_fraction_of_pixels(fill):
    n, h, w = 64, 64, 64
    images = np.full((n, h, w, 3), 200, np.uint8)
    out = random_erase(tf.constant(images), 1.0, (0.1, 0.1), seed(5), fill).numpy()
    assert out.dtype == np.uint8 and out.shape == images.shape
    changed = (out != 200).any(-1).mean(axis=(1, 2))
    assert abs(changed.mean() - 0.1) < 0.01 and changed.min() > 0.06 and changed.max() < 0.14
    if fill == "noise":
        assert len(np.unique(out)) > 100


def test_random_erase_erases_images_with_its_probability_and_none_at_zero():
    images = np.full((400, 16, 16, 3), 50, np.uint8)
    out = random_erase(tf.constant(images), 0.5, (0.02, 0.25), seed(6), "zeros").numpy()
    erased = (out == 0).any(axis=(1, 2, 3))
    assert 0.42 < erased.mean() < 0.58
    np.testing.assert_array_equal(random_erase(tf.constant(images), 0.0, (0.02, 0.25), seed(6)).numpy(), images)


def test_train_transform_with_the_large_image_ops_is_a_function_of_seed_epoch_and_step():
    cfg = AugmentCfg(preset="none", flip=True, crop_scale=[0.3, 1.0], rotate=10.0, scale=0.1,
                     color_jitter=0.4, erase_prob=0.5, cutmix_alpha=1.0)
    images, labels = batch(8, 24, 24), np.arange(8) % 3
    a = _run(make_train_transform(cfg, 3, seed=1, epochs=4), images, labels, 1, 5)
    b = _run(make_train_transform(cfg, 3, seed=1, epochs=4), images, labels, 1, 5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].dtype == np.float32 and a[0].shape == (8, 24, 24, 3)
    assert a[0].min() >= 0 and a[0].max() <= 255
    assert not np.array_equal(a[0], _run(make_train_transform(cfg, 3, seed=1, epochs=4), images, labels, 1, 6)[0])


def test_the_large_image_keys_default_to_off():
    cfg = AugmentCfg(preset="none", flip=True)
    images, labels = batch(8, 12, 12), np.arange(8) % 3
    x, _ = _run(make_train_transform(cfg, 3, seed=0, epochs=2), images, labels)
    y = random_flip(tf.constant(images), tf.random.experimental.stateless_split(
        tf.constant([0, 0], tf.int64), 6)[0]).numpy()  # the flip draws as before the new keys
    np.testing.assert_array_equal(x, y.astype(np.float32))


@pytest.mark.parametrize("key, value, allowed", [
    ("augment.crop_scale", "[0.0, 1.0]", r"\[min, max\] with 0 < min <= max <= 1"),
    ("augment.crop_scale", "[0.5, 1.5]", r"\[min, max\] with 0 < min <= max <= 1"),
    ("augment.crop_scale", "[0.5]", r"\[min, max\] with 0 < min <= max <= 1"),
    ("augment.crop_ratio", "[1.5, 0.5]", r"\[min, max\] with 0 < min <= max"),
    ("augment.rotate", "-5", r"in \[0, 180\]"),
    ("augment.scale", "1.0", r"in \[0, 1\)"),
    ("augment.color_jitter", "1.5", r"in \[0, 1\]"),
    ("augment.erase_prob", "2", r"in \[0, 1\]"),
    ("augment.erase_scale", "[0.3, 0.1]", r"\[min, max\] with 0 < min <= max <= 1"),
])
def test_out_of_range_augment_keys_name_the_key_and_the_range(key, value, allowed):
    with pytest.raises(CompError, match=rf"{key} must be {allowed}\. Received: {key}="):
        load_recipe("fast", [f"{key}={value}"])


def test_unknown_erase_fill_is_rejected():
    with pytest.raises(CompError, match=r"augment.erase_fill must be one of 'noise', 'zeros'"):
        load_recipe("fast", ["augment.erase_fill=grey"])


def test_the_large_image_ops_run_in_a_graph_with_an_unknown_batch_size():
    cfg = AugmentCfg(preset="none", crop_scale=[0.3, 1.0], rotate=10.0, scale=0.1, color_jitter=0.4,
                     erase_prob=0.5, erase_fill="zeros", mixup_alpha=0.2)
    transform = make_train_transform(cfg, 3, seed=1, epochs=4)
    graph = tf.function(transform, input_signature=[tf.TensorSpec([None, 20, 28, 3], tf.uint8),
                                                    tf.TensorSpec([None], tf.int32),
                                                    tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64)])
    images, labels = batch(5, 20, 28), np.arange(5) % 3
    x, y = graph(tf.constant(images), tf.constant(labels, tf.int32), tf.constant(2, tf.int64), tf.constant(7, tf.int64))
    want = _run(transform, images, labels, 2, 7)
    assert x.shape == (5, 20, 28, 3)
    np.testing.assert_allclose(x.numpy(), want[0], atol=1e-3)  # the graph draws as eager calls do
    np.testing.assert_allclose(y.numpy(), want[1], atol=1e-6)
