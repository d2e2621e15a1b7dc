"""Augmentation policies in the graph: TrivialAugment and RandAugment, per image, stateless.

- ``trivial`` (TrivialAugment Wide, Müller & Hutter 2021, https://arxiv.org/abs/2103.10158):
  each image gets one op drawn uniformly from :data:`OPS`, at a magnitude drawn uniformly in
  [0, 1] (and a random sign where the op has a direction);
- ``randaugment`` (Cubuk et al. 2020, https://arxiv.org/abs/1909.13719): each image gets
  ``augment.policy_ops`` ops in turn, each drawn uniformly, all at ``augment.policy_magnitude``.

Why not ``keras.layers.RandAugment``: it draws from a stateful ``SeedGenerator`` (a batch would
depend on tf.data's worker scheduling and a resumed fold would see other images), and Keras has
no TrivialAugment. Here every draw is a function of the batch's seed, as every other op of
:mod:`comp.augment.ops`: a resumed run sees the same batches.

Every op is computed for the whole batch and each image keeps its own op's result (a select):
13 ops on a batch of small images cost little next to the training step. Magnitude ranges at
magnitude 1 (TrivialAugment Wide's, with the translation scaled to the image): brightness,
contrast, colour and sharpness factors 1 +- 0.99; rotation +-135 degrees; shear +-0.99;
translation +-0.32 of the side (Wide's 32 px of 100; 10 px of 32); posterize to 2 bits; solarize from 0.
"""

from __future__ import annotations

import math

from comp.augment.ops import _gray, affine_transform
from comp.tf_quiet import tf

OPS = ("identity", "brightness", "contrast", "color", "sharpness", "posterize", "solarize", "autocontrast",
       "rotate", "shear_x", "shear_y", "translate_x", "translate_y")
POLICIES = ("none", "trivial", "randaugment")


def _blend(base, images, factor):
    """``base + (images - base) * factor`` per image, clipped to 0-255 (PIL's ImageEnhance)."""
    return tf.clip_by_value(base + (images - base) * factor[:, None, None, None], 0.0, 255.0)


def _smoothed(images):
    """PIL's SMOOTH filter (3x3, centre 5, the rest 1, /13) per channel; the border pixels kept."""
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    smooth = tf.nn.depthwise_conv2d(images, tf.tile(kernel[:, :, None, None], [1, 1, 3, 1]), [1, 1, 1, 1], "SAME")
    h, w = images.shape[1], images.shape[2]
    rows, cols = tf.range(h)[:, None], tf.range(w)[None, :]
    inner = (rows > 0) & (rows < h - 1) & (cols > 0) & (cols < w - 1)
    return tf.where(inner[None, :, :, None], smooth, images)


def _projective(images, rows):
    """Each image through its own projective transform (8 numbers, output -> input), zeros outside."""
    h, w = images.shape[1], images.shape[2]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=tf.cast(rows, tf.float32), output_shape=tf.constant([h, w], tf.int32),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="CONSTANT")


def _shear(images, amount, axis: int):
    """Shear about the centre: x reads x + amount (y - cy) (axis 0), or y reads y + amount (x - cx)."""
    h, w = images.shape[1], images.shape[2]
    one, zero = tf.ones_like(amount), tf.zeros_like(amount)
    if axis == 0:
        rows = [one, amount, -amount * (h - 1) / 2.0, zero, one, zero, zero, zero]
    else:
        rows = [one, zero, zero, amount, one, -amount * (w - 1) / 2.0, zero, zero]
    return _projective(images, tf.stack(rows, axis=1))


def _translate(images, fraction, axis: int):
    """Shift by ``fraction`` of the side along x (axis 0) or y."""
    h, w = images.shape[1], images.shape[2]
    one, zero = tf.ones_like(fraction), tf.zeros_like(fraction)
    dx, dy = (fraction * w, zero) if axis == 0 else (zero, fraction * h)
    return _projective(images, tf.stack([one, zero, dx, zero, one, dy, zero, zero], axis=1))


def _autocontrast(images):
    low = tf.reduce_min(images, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(images, axis=[1, 2], keepdims=True)
    scale = tf.where(high > low, 255.0 / tf.maximum(high - low, 1e-3), 1.0)
    return tf.where(high > low, (images - low) * scale, images)


def apply_ops(images, m, sign):
    """Every op of :data:`OPS` on the float32 batch (0-255) at per-image magnitude ``m`` in [0, 1]
    and sign +-1; a list in :data:`OPS`' order."""
    signed = m * sign
    factor = 1.0 + 0.99 * signed
    mean = tf.reduce_mean(_gray(images), axis=[1, 2, 3], keepdims=True)
    bits = 8.0 - tf.floor(m * 6.0)  # 8 (unchanged) down to 2
    step = tf.pow(2.0, 8.0 - bits)[:, None, None, None]
    threshold = (256.0 * (1.0 - m))[:, None, None, None]
    return [
        images,
        tf.clip_by_value(images * factor[:, None, None, None], 0.0, 255.0),
        _blend(mean, images, factor),
        _blend(_gray(images), images, factor),
        _blend(_smoothed(images), images, factor),
        tf.floor(images / step) * step,
        tf.where(images >= threshold, 255.0 - images, images),
        _autocontrast(images),
        affine_transform(images, signed * (135.0 * math.pi / 180.0), tf.ones_like(m)),
        _shear(images, 0.99 * signed, 0),
        _shear(images, 0.99 * signed, 1),
        _translate(images, 0.32 * signed, 0),
        _translate(images, 0.32 * signed, 1),
    ]


def one_op(images, seed, magnitude=None):
    """Each image through one op drawn uniformly from :data:`OPS`; its magnitude uniform in [0, 1]
    (``magnitude`` None: TrivialAugment) or fixed; a random sign."""
    n = tf.shape(images)[0]
    s_op, s_m, s_sign = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    op = tf.random.stateless_uniform([n], s_op, maxval=len(OPS), dtype=tf.int32)
    m = tf.random.stateless_uniform([n], s_m) if magnitude is None else tf.fill([n], float(magnitude))
    sign = tf.where(tf.random.stateless_uniform([n], s_sign) < 0.5, -1.0, 1.0)
    results = tf.stack(apply_ops(tf.cast(images, tf.float32), m, sign), axis=0)  # (ops, n, h, w, c)
    return tf.gather(tf.transpose(results, [1, 0, 2, 3, 4]), op, axis=1, batch_dims=1)


def apply_policy(images, policy: str, seed, ops: int = 2, magnitude: float = 0.5):
    """``policy`` (:data:`POLICIES`) on a batch; ``none`` returns it unchanged."""
    if policy == "none":
        return images
    if policy == "trivial":
        return one_op(images, seed)
    for s in tf.unstack(tf.random.experimental.stateless_split(seed, ops)):
        images = one_op(images, s, magnitude)
    return images
