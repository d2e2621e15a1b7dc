"""Test-time augmentation: the named levels and their views.

A level is an ordered list of (view, weight) pairs (as in cifar10-airbench); a prediction at
that level is the weighted mean of the softmax over its views (:func:`comp.predict.probs.predict_proba`).

- ``none``: the image as is.
- ``flip``: the image and its mirror (the largest single TTA effect on CIFAR-10).
- ``flip-shift``: those two (weight 1/4 each) plus each of them shifted by one pixel
  down-right and up-left with mirrored borders (1/8 each). A one-pixel shift is a view for
  32 px images; at 128-256 px it changes next to nothing.
- ``flip-zoom``: the image, its mirror, the centre 87.5 % of each side resized back, and its
  mirror, 1/4 each: the views for 128-256 px. Equal weights, because under random resized crop
  training (``augment.crop_scale = [0.35, 1]``: a crop side of 0.82 on average) the zoomed view
  is as typical of the training images as the whole one.

``predict.crop`` (``tta_views(level, crop)``) makes every view look at the centre ``crop`` of
each side, resized back (timm's ``crop_pct``); a zoomed view then crops once, by the product
of both fractions. 1, the default, is the whole image: what a model trained with crops of
scale up to 1 expects. The crops resample as the training crops do
(:func:`comp.augment.ops.resized_crop`).

Views are functions of a float32 batch (N, H, W, C). This module imports TensorFlow only
when a view runs, so specs and the CLI can name the levels without loading it.

To add a view: write a function here and give it a weight in a level of :data:`LEVELS`
(weights of a level sum to 1; tests/test_predict.py checks each view against numpy).
"""

from __future__ import annotations

from comp.errors import CompError, unknown_name_error


def identity(x):
    return x


def flip(x):
    from comp.tf_quiet import tf

    return tf.reverse(x, axis=[2])


def shifted(dy: int, dx: int):
    """A view that shifts by (dy, dx) pixels with mirrored borders, as the training translation
    of the `fast` recipe (and airbench's TTA): a zero border is a pattern no training image had."""
    def view(x):
        from comp.tf_quiet import tf

        h, w = x.shape[1], x.shape[2]
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
        return padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w, :]
    view.__name__ = f"shift_{dy}_{dx}"
    return view


def mirrored(view):
    """``view`` applied to the mirror image."""
    def view_of_mirror(x):
        return view(flip(x))
    view_of_mirror.__name__ = f"{view.__name__}_of_flip"
    return view_of_mirror


def zoomed(keep: float, mirror: bool = False):
    """A view of the centre ``keep`` of each side (of the mirror image if ``mirror``), resized back."""
    def view(x):
        from comp.augment.ops import centre_crop

        return centre_crop(flip(x) if mirror else x, keep)
    view.keep, view.mirror = keep, mirror
    view.__name__ = f"zoom_{keep:g}" + ("_of_flip" if mirror else "")
    return view


def with_crop(view, crop: float):
    """``view`` of the centre ``crop`` of each side: a zoomed view crops once, by the product."""
    if hasattr(view, "keep"):
        return zoomed(view.keep * crop, view.mirror) if crop < 1 else view
    if crop >= 1:
        return view
    first = zoomed(crop)

    def view_of_crop(x):
        return view(first(x))
    view_of_crop.__name__ = f"{view.__name__}_of_crop_{crop:g}"
    return view_of_crop


_down_right, _up_left = shifted(1, 1), shifted(-1, -1)

# (view, weight): flip-shift gives the unshifted pair half the weight (airbench's tta_level 2)
LEVELS = {
    "none": [(identity, 1.0)],
    "flip": [(identity, 0.5), (flip, 0.5)],
    "flip-shift": [(identity, 0.25), (flip, 0.25), (_down_right, 0.125), (_up_left, 0.125),
                   (mirrored(_down_right), 0.125), (mirrored(_up_left), 0.125)],
    "flip-zoom": [(identity, 0.25), (flip, 0.25), (zoomed(0.875), 0.25), (zoomed(0.875, mirror=True), 0.25)],
}
TTA_LEVELS = tuple(LEVELS)


def check_tta(level: str) -> str:
    if level not in LEVELS:
        raise unknown_name_error("TTA level", level, list(TTA_LEVELS))
    return level


def check_crop(crop: float) -> float:
    if not 0 < crop <= 1:
        raise CompError(f"predict.crop must be in (0, 1]. Received: predict.crop={crop!r}")
    return crop


def tta_views(level: str, crop: float = 1.0) -> list:
    """The (view function, weight) pairs of a TTA level, each view of the centre ``crop`` of
    each side (``predict.crop``; 1 = the whole image); the weights sum to 1."""
    check_crop(crop)
    return [(with_crop(view, crop), weight) for view, weight in LEVELS[check_tta(level)]]
