"""Vectorised per-sample augmentation ops: stateless TensorFlow ops on a whole batch.

Every op takes a batch (B, H, W, C), uint8 or float, and returns one of the same H x W; the
random ones take a stateless ``seed`` (a (2,) int64 tensor), so the same seed gives the same
output on any device, in any order of tf.data's parallel calls and after a resume.
:func:`comp.augment.transform.make_train_transform` draws the seeds from (seed, epoch, step).

- flip, alternating flip, translate, cutout: exact, keep the dtype (the small-image ops);
- random resized crop (torchvision/timm semantics), rotation/scale, colour jitter: they
  interpolate, and return float32 in 0-255;
- random erasing (Zhong et al. 2017, https://arxiv.org/abs/1708.04896): keeps the dtype.

:func:`resized_crop` is also the centre crop of prediction (:mod:`comp.predict.tta`), so training
crops and test crops resample alike: the crop of a box whose pixel centres run from (top, left)
to (top + h - 1, left + w - 1), in pixels, is sampled bilinearly on an H x W grid
(``tf.image.crop_and_resize``; the whole box is the identity).
"""

from __future__ import annotations

import math

from comp.tf_quiet import tf

# --------------------------------------------------------------------------- flips, translate, cutout


def random_flip(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Flip each image left-right with probability 1/2."""
    flip = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[2]), images)


def alternating_flip(images: tf.Tensor, index: tf.Tensor, epoch: tf.Tensor, seed: int) -> tf.Tensor:
    """Flip each image by a fixed coin of its own in even epochs and the opposite in odd ones.

    Every image is seen both ways in every pair of epochs, instead of by chance (Jordan 2024,
    cifar10-airbench, https://arxiv.org/abs/2404.00498: the same accuracy in fewer epochs).
    ``index`` is the images' position in the training set; the coin is a hash of (seed, index).
    """
    # The coin: the top bit of a 32-bit multiplicative (Knuth) hash of index + seed; no table
    # of the whole training set is needed, and it is the same in every epoch and after a resume.
    h = tf.math.floormod((tf.cast(index, tf.int64) + seed * 40503) * 2654435761, 2**32)
    coin = tf.bitwise.right_shift(h, 31)
    flip = tf.math.floormod(coin + tf.cast(epoch, tf.int64), 2) == 1
    return tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)


TRANSLATE_FILLS = ("reflect", "zeros")


def random_translate(images: tf.Tensor, pad: int, seed: tf.Tensor, fill: str = "zeros") -> tf.Tensor:
    """Shift each image by its own (dy, dx) in [-pad, pad].

    ``fill``: ``zeros`` (black borders) or ``reflect`` (the border mirrored without repeating
    the edge pixel, as NumPy's and OpenCV's REFLECT_101; airbench and Page pad this way). Both
    are one gather of row and column indices: ``tf.pad(mode="REFLECT")`` costs 9x a constant
    pad on CPUs (measured), while reflecting the indices costs nothing.
    """
    if pad <= 0:
        return images
    b = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    shifts = tf.random.stateless_uniform([b, 2], seed, minval=-pad, maxval=pad + 1, dtype=tf.int32)
    rows = tf.range(h)[None, :] - shifts[:, :1]  # (B, H): source row of each output row
    cols = tf.range(w)[None, :] - shifts[:, 1:]  # (B, W)
    if fill == "reflect":
        rows = _reflect(rows, h)
        cols = _reflect(cols, w)
        out = tf.gather(images, rows, axis=1, batch_dims=1)
        return tf.gather(out, cols, axis=2, batch_dims=1)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    out = tf.gather(padded, rows + pad, axis=1, batch_dims=1)
    return tf.gather(out, cols + pad, axis=2, batch_dims=1)


def _reflect(index: tf.Tensor, size: int) -> tf.Tensor:
    """Indices outside [0, size) mirrored back in about the edge pixels (-1 -> 1, size -> size - 2)."""
    index = tf.abs(index)
    return (size - 1) - tf.abs((size - 1) - index)


def _box_mask(shape_hw: tuple[int, int], cy, cx, half_h, half_w) -> tf.Tensor:
    """(B, H, W, 1) boolean mask of the boxes centred at (cy, cx)."""
    h, w = shape_hw
    ys = tf.range(h, dtype=tf.float32)[None, :, None]
    xs = tf.range(w, dtype=tf.float32)[None, None, :]
    inside = ((tf.abs(ys - cy[:, None, None]) < half_h[:, None, None])
              & (tf.abs(xs - cx[:, None, None]) < half_w[:, None, None]))
    return inside[..., None]


def random_cutout(images: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """Zero one ``size`` x ``size`` square per image at a uniform centre (DeVries & Taylor 2017)."""
    if size <= 0:
        return images
    b = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    centres = tf.random.stateless_uniform([b, 2], seed) * tf.constant([h, w], tf.float32)
    half = tf.fill([b], size / 2.0)
    mask = _box_mask((h, w), centres[:, 0], centres[:, 1], half, half)
    return tf.where(mask, tf.zeros_like(images), images)


# --------------------------------------------------------------------------- boxes and crops


def sample_boxes(n, scale, ratio, shape_hw: tuple[int, int], seed: tf.Tensor) -> tf.Tensor:
    """(n, 4) float32 boxes (top, left, height, width) as fractions of the image's sides.

    The area fraction is uniform in ``scale`` and the aspect (width / height, in pixels)
    log-uniform in ``ratio`` (torchvision's RandomResizedCrop). A box that would stick out has
    its aspect pulled in until it fits, so the area stays in ``scale`` (torchvision draws again,
    up to 10 times, then falls back to a centre crop). The position is uniform over the image.
    """
    h, w = shape_hw
    u = tf.random.stateless_uniform([n, 4], seed)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    log_r = lo + (hi - lo) * u[:, 1] + math.log(h / w)  # aspect of the box in side fractions
    log_a = tf.math.log(area)
    log_r = tf.clip_by_value(log_r, log_a, -log_a)  # height <= 1 and width <= 1
    bh = tf.minimum(tf.sqrt(area * tf.exp(-log_r)), 1.0)
    bw = tf.minimum(tf.sqrt(area * tf.exp(log_r)), 1.0)
    return tf.stack([(1.0 - bh) * u[:, 2], (1.0 - bw) * u[:, 3], bh, bw], axis=1)


def resized_crop(images: tf.Tensor, boxes: tf.Tensor) -> tf.Tensor:
    """Each image's box (top, left, height, width in side fractions) resized back to H x W
    (bilinear, float32). See the module's note for where the pixel centres fall."""
    h, w = images.shape[1], images.shape[2]
    top, left, bh, bw = tf.unstack(tf.cast(boxes, tf.float32), axis=1)
    ch, cw = bh * h, bw * w  # the box in pixels
    y1, x1 = top * h / max(h - 1, 1), left * w / max(w - 1, 1)
    y2 = (top * h + tf.maximum(ch - 1.0, 0.0)) / max(h - 1, 1)
    x2 = (left * w + tf.maximum(cw - 1.0, 0.0)) / max(w - 1, 1)
    return tf.image.crop_and_resize(tf.cast(images, tf.float32), tf.stack([y1, x1, y2, x2], axis=1),
                                    tf.range(tf.shape(images)[0]), [h, w], method="bilinear")


def centre_crop(images: tf.Tensor, fraction: float) -> tf.Tensor:
    """The centre ``fraction`` of each side, resized back to H x W (float32); 1 = the image."""
    x = tf.cast(images, tf.float32)
    if fraction >= 1.0:
        return x
    off = (1.0 - fraction) / 2.0
    boxes = tf.tile(tf.constant([[off, off, fraction, fraction]], tf.float32), [tf.shape(x)[0], 1])
    return resized_crop(x, boxes)


def random_resized_crop(images: tf.Tensor, scale, ratio, seed: tf.Tensor) -> tf.Tensor:
    """A crop per image (:func:`sample_boxes`) resized back to H x W; scale (1, 1) is the identity."""
    boxes = sample_boxes(tf.shape(images)[0], scale, ratio, (images.shape[1], images.shape[2]), seed)
    return resized_crop(images, boxes)


# --------------------------------------------------------------------------- rotation and scale


def affine_transform(images: tf.Tensor, angles: tf.Tensor, zooms: tf.Tensor) -> tf.Tensor:
    """Rotate each image by its angle (radians) and magnify it by its zoom about its centre
    (bilinear, float32); the border is mirrored (TF's REFLECT: d c b a | a b c d)."""
    h, w = images.shape[1], images.shape[2]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    cos, sin = tf.cos(angles) / zooms, tf.sin(angles) / zooms
    # output (x, y) reads the input at centre + R(-angle) (p - centre) / zoom
    a2 = cx - cos * cx - sin * cy
    b2 = cy + sin * cx - cos * cy
    zero = tf.zeros_like(cos)
    transforms = tf.stack([cos, sin, a2, -sin, cos, b2, zero, zero], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=tf.cast(transforms, tf.float32),
        output_shape=tf.constant([h, w], tf.int32), fill_value=tf.constant(0.0),
        interpolation="BILINEAR", fill_mode="REFLECT")


def random_affine(images: tf.Tensor, rotate: float, scale: float, seed: tf.Tensor) -> tf.Tensor:
    """Rotation uniform in [-rotate, rotate] degrees and zoom uniform in [1 - scale, 1 + scale]
    per image; both 0 returns the images unchanged."""
    if rotate <= 0 and scale <= 0:
        return images
    u = tf.random.stateless_uniform([tf.shape(images)[0], 2], seed, minval=-1.0, maxval=1.0)
    return affine_transform(images, u[:, 0] * (rotate * math.pi / 180.0), 1.0 + u[:, 1] * scale)


# --------------------------------------------------------------------------- colour


def _gray(x: tf.Tensor) -> tf.Tensor:
    return tf.tensordot(x, tf.constant([0.299, 0.587, 0.114]), axes=[[3], [0]])[..., None]


def adjust_color(images: tf.Tensor, brightness, contrast, saturation) -> tf.Tensor:
    """Per-image factors (B,), in this order, each clipped to 0-255 (torchvision's ColorJitter
    in a fixed order): brightness scales, contrast blends with the image's mean grey, saturation
    with the pixel's grey; 1 leaves the image as it is."""
    x = tf.clip_by_value(tf.cast(images, tf.float32) * brightness[:, None, None, None], 0.0, 255.0)
    mean = tf.reduce_mean(_gray(x), axis=[1, 2, 3], keepdims=True)
    x = tf.clip_by_value((x - mean) * contrast[:, None, None, None] + mean, 0.0, 255.0)
    gray = _gray(x)
    return tf.clip_by_value(gray + (x - gray) * saturation[:, None, None, None], 0.0, 255.0)


def random_color_jitter(images: tf.Tensor, strength: float, seed: tf.Tensor) -> tf.Tensor:
    """Brightness, contrast and saturation factors uniform in [1 - strength, 1 + strength] per
    image (no hue); strength 0 returns the images unchanged."""
    if strength <= 0:
        return images
    f = 1.0 + tf.random.stateless_uniform([tf.shape(images)[0], 3], seed, minval=-strength, maxval=strength)
    return adjust_color(images, f[:, 0], f[:, 1], f[:, 2])


# --------------------------------------------------------------------------- random erasing

ERASE_FILLS = ("noise", "zeros")
ERASE_RATIO = (0.3, 1 / 0.3)  # the aspect range of the erased box (timm's RandomErasing)


def random_erase(images: tf.Tensor, prob: float, scale, seed: tf.Tensor, fill: str = "noise") -> tf.Tensor:
    """With probability ``prob`` per image, fill a box of area fraction uniform in ``scale``
    (aspect log-uniform in :data:`ERASE_RATIO`) with zeros or uniform 0-255 noise per pixel."""
    if prob <= 0:
        return images
    b = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    s_box, s_on, s_noise = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    top, left, bh, bw = tf.unstack(sample_boxes(b, scale, ERASE_RATIO, (h, w), s_box)[:, :, None, None], axis=1)
    ys = (tf.range(h, dtype=tf.float32)[None, :, None] + 0.5) / h  # pixel centres, as side fractions
    xs = (tf.range(w, dtype=tf.float32)[None, None, :] + 0.5) / w
    on = tf.random.stateless_uniform([b, 1, 1], s_on) < prob
    mask = on & (ys >= top) & (ys < top + bh) & (xs >= left) & (xs < left + bw)
    if fill == "zeros":
        filler = tf.zeros_like(images)
    else:
        filler = tf.cast(tf.floor(tf.random.stateless_uniform(tf.shape(images), s_noise, maxval=256.0)), images.dtype)
    return tf.where(mask[..., None], filler, images)
