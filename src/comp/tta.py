"""Test-time augmentation: the named levels and their views.

A level is an ordered list of (view, weight) pairs (as in cifar10-airbench); a prediction at
that level is the weighted mean of the softmax over its views (:func:`comp.predict.predict_proba`).

- ``none``: the image as is.
- ``flip``: the image and its mirror (the largest single TTA effect on CIFAR-10).
- ``flip-shift``: those two (weight 1/4 each) plus each of them shifted by one pixel
  down-right and up-left with mirrored borders (1/8 each).

Views are functions of a float32 batch (N, H, W, C). This module imports TensorFlow only
when a view runs, so specs and the CLI can name the levels without loading it.

To add a view: write a function here and give it a weight in a level of :data:`LEVELS`
(weights of a level sum to 1; tests/test_predict.py checks each view against numpy).
"""

from __future__ import annotations

from comp.errors import unknown_name_error


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


_down_right, _up_left = shifted(1, 1), shifted(-1, -1)

# (view, weight): flip-shift gives the unshifted pair half the weight (airbench's tta_level 2)
LEVELS = {
    "none": [(identity, 1.0)],
    "flip": [(identity, 0.5), (flip, 0.5)],
    "flip-shift": [(identity, 0.25), (flip, 0.25), (_down_right, 0.125), (_up_left, 0.125),
                   (mirrored(_down_right), 0.125), (mirrored(_up_left), 0.125)],
}
TTA_LEVELS = tuple(LEVELS)


def check_tta(level: str) -> str:
    if level not in LEVELS:
        raise unknown_name_error("TTA level", level, list(TTA_LEVELS))
    return level


def tta_views(level: str) -> list:
    """The (view function, weight) pairs of a TTA level; the weights sum to 1."""
    return LEVELS[check_tta(level)]
