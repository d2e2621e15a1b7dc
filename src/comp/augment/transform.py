"""Training-batch augmentation: albumentations presets, in-graph per-sample ops, mixup/cutmix.

Three layers, applied to training batches only (never to validation or test):

1. **albumentations presets** (``none``, ``light``, ``heavy``), registered by name. They run
   in one ``numpy_function`` call per batch (never one call per image: the Python call is the
   expensive part), with the batch's RNG reseeded from (seed, epoch, step) so that parallel
   tf.data workers and resumed runs see the same stream. ``strict=True`` makes a stale
   argument name an error instead of a silent fallback to defaults.
2. **Vectorised per-sample ops** (:mod:`comp.augment.ops`: random resized crop, rotation and
   scale, flip, translate, colour jitter, random erasing, cutout) as stateless TensorFlow ops
   on the whole batch: cheap on any device, and deterministic for the same seed.
3. **Batch mixing** as pure functions returning soft targets:
   mixup (Zhang et al. 2018, https://arxiv.org/abs/1710.09412) and
   cutmix (Yun et al. 2019, https://arxiv.org/abs/1905.04899).

Why mixing is written here rather than with ``keras.layers.MixUp``/``CutMix``: those layers
draw from a stateful ``SeedGenerator`` (a batch would then depend on worker scheduling and be
lost on resume) and cannot switch between mixup and cutmix per batch, as timm's ``Mixup`` does.

Example::

    fn = make_train_transform(recipe.augment, num_classes=10, seed=42, epochs=30)
    images, targets = fn(uint8_images, int_labels, epoch, step)
"""

from __future__ import annotations

import threading
from typing import Callable

import albumentations as A
import cv2
import numpy as np
from comp.tf_quiet import tf

# The in-graph per-sample ops live in comp.augment.ops; the older ones are still importable from here.
from comp.augment.ops import (_box_mask, alternating_flip, random_affine, random_color_jitter,  # noqa: F401
                              random_cutout, random_erase, random_flip, random_resized_crop, random_translate)
from comp.augment.policies import apply_policy
from comp.errors import unknown_name_error
from comp.config.recipe import AugmentCfg

# OpenCV's own thread pool (under albumentations) fights TensorFlow's for the same cores; the
# parallelism comes from tf.data's calls instead.
cv2.setNumThreads(0)

# --------------------------------------------------------------------------- albumentations presets

_PRESETS: dict[str, Callable[[], A.Compose | None]] = {}


def register_preset(name: str):
    def wrap(fn):
        _PRESETS[name] = fn
        return fn

    return wrap


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def create_preset(name: str) -> A.Compose | None:
    """The albumentations pipeline of a preset (None for ``none``)."""
    if name not in _PRESETS:
        raise unknown_name_error("augment.preset", name, list(_PRESETS))
    return _PRESETS[name]()


@register_preset("none")
def _none() -> None:
    return None


@register_preset("light")
def _light() -> A.Compose:
    """Flip and a small shift, reflected at the border."""
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(translate_percent=(-0.1, 0.1), border_mode=cv2.BORDER_REFLECT_101, p=0.5),
    ], strict=True)


@register_preset("heavy")
def _heavy() -> A.Compose:
    """Flip, affine shift/scale/rotate, colour jitter and coarse dropout."""
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(translate_percent=(-0.125, 0.125), scale=(0.9, 1.1), rotate=(-15, 15),
                 border_mode=cv2.BORDER_REFLECT_101, p=0.7),
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03, p=0.5),
        A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.25, 0.4),
                        hole_width_range=(0.25, 0.4), fill=0, p=0.5),
    ], strict=True)


class BatchAugmenter:
    """Applies a preset to every image of a uint8 batch, reseeded per (seed, epoch, step).

    Each thread keeps its own Compose: a shared one would interleave RNG draws across
    tf.data's parallel calls.
    """

    def __init__(self, preset: str, seed: int):
        create_preset(preset)  # fail early on an unknown name
        self.preset, self.seed = preset, seed
        self._local = threading.local()

    def __call__(self, images: np.ndarray, epoch: int, step: int) -> np.ndarray:
        if self.preset == "none":
            return images
        compose = getattr(self._local, "compose", None)
        if compose is None:
            compose = self._local.compose = create_preset(self.preset)
        compose.set_random_seed(int(np.random.SeedSequence([self.seed, int(epoch), int(step)])
                                    .generate_state(1)[0]))
        out = np.empty_like(images)
        for i in range(len(images)):
            out[i] = compose(image=images[i])["image"]
        return out

    def tf(self, images: tf.Tensor, epoch: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        out = tf.numpy_function(self, [images, epoch, step], tf.uint8, stateful=False)
        out.set_shape(images.shape)
        return out


# --------------------------------------------------------------------------- batch mixing


def sample_beta(alpha: float, n, seed: tf.Tensor) -> tf.Tensor:
    """n draws of Beta(alpha, alpha), as the ratio of two stateless gamma draws."""
    s1, s2 = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    g1 = tf.random.stateless_gamma([n], seed=s1, alpha=alpha)
    g2 = tf.random.stateless_gamma([n], seed=s2, alpha=alpha)
    return g1 / (g1 + g2)


def mixup(images: tf.Tensor, targets: tf.Tensor, alpha: float, seed: tf.Tensor):
    """Mix each sample with a partner from the same batch (reversed order), per-sample lambda.

    Returns float32 images and soft targets: lam * own + (1 - lam) * partner's.
    """
    b = tf.shape(images)[0]
    lam = sample_beta(alpha, b, seed)
    x = tf.cast(images, tf.float32)
    lam_x = lam[:, None, None, None]
    mixed = lam_x * x + (1.0 - lam_x) * tf.reverse(x, [0])
    soft = lam[:, None] * targets + (1.0 - lam[:, None]) * tf.reverse(targets, [0])
    return mixed, soft


def cutmix(images: tf.Tensor, targets: tf.Tensor, alpha: float, seed: tf.Tensor):
    """Paste a box from a partner image into each sample; targets mix by the pasted area."""
    b = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    s1, s2 = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    lam = sample_beta(alpha, b, s1)
    cut = tf.sqrt(1.0 - lam)  # box side as a fraction of the image side
    centres = tf.random.stateless_uniform([b, 2], s2) * tf.constant([h, w], tf.float32)
    half_h, half_w = cut * h / 2.0, cut * w / 2.0
    mask = _box_mask((h, w), centres[:, 0], centres[:, 1], half_h, half_w)
    x = tf.cast(images, tf.float32)
    mixed = tf.where(mask, tf.reverse(x, [0]), x)
    # The box is clipped at the border, so the label weight is the area actually pasted.
    area = tf.reduce_mean(tf.cast(mask, tf.float32), axis=[1, 2, 3])
    soft = (1.0 - area)[:, None] * targets + area[:, None] * tf.reverse(targets, [0])
    return mixed, soft


# --------------------------------------------------------------------------- the training transform


def _per_sample_ops(cfg: AugmentCfg, seed: int):
    """(images, epoch, step, index, base, seeds) -> images: the per-sample ops in their order.

    The albumentations preset, then random resized crop, rotation and scale, flip, translation,
    the augmentation policy (``augment.policy``), colour jitter, random erasing and cutout. The ops for large images (crop, affine, colour,
    erasing) draw from seeds of their own, so the other ops draw as they did before them.
    """
    albument = BatchAugmenter(cfg.preset, seed) if cfg.preset != "none" else None
    crop = tuple(cfg.crop_scale) != (1.0, 1.0)

    def apply(images, epoch, step, index, base, seeds):
        more = tf.random.experimental.stateless_split(tf.random.experimental.stateless_fold_in(base, 1), 4)
        if albument is not None:
            images = albument.tf(images, epoch, step)
        if crop:
            images = random_resized_crop(images, cfg.crop_scale, cfg.crop_ratio, more[0])
        images = random_affine(images, cfg.rotate, cfg.scale, more[1])
        if cfg.flip and cfg.alternate_flip and index is not None:
            images = alternating_flip(images, index, epoch, seed)
        elif cfg.flip:
            images = random_flip(images, seeds[0])
        images = random_translate(images, cfg.translate, seeds[1], cfg.translate_fill)
        if cfg.policy != "none":  # a seed of its own: the other ops draw as they did before it
            policy_seed = tf.random.experimental.stateless_fold_in(base, 2)
            images = apply_policy(images, cfg.policy, policy_seed, cfg.policy_ops, cfg.policy_magnitude)
        images = random_color_jitter(images, cfg.color_jitter, more[2])
        images = random_erase(images, cfg.erase_prob, cfg.erase_scale, more[3], cfg.erase_fill)
        return random_cutout(images, cfg.cutout, seeds[2])

    return apply


def make_train_transform(cfg: AugmentCfg, num_classes: int, seed: int, epochs: int):
    """A function (uint8 images, labels, epoch, step[, index, weights]) -> (float32 images, float32 targets[, weights]).

    ``labels``: integer classes, or float targets (N x classes: a teacher's soft targets).
    ``index`` (the images' positions in the training set) is needed by ``alternate_flip`` only;
    without it the flip is random. ``weights`` (per image; pseudo-labelled images may count
    less) come out as Keras sample weights, mixed by mixup/cutmix as the targets are.

    Every random draw is a function of (seed, epoch, step): the same batch comes out of a
    resumed run, whatever order tf.data's parallel calls run in.
    """
    per_sample = _per_sample_ops(cfg, seed)
    mixing = cfg.mixup_alpha > 0 or cfg.cutmix_alpha > 0
    last_mix_epoch = epochs - cfg.mix_off_epochs  # mix in epochs [0, last_mix_epoch)

    def transform(images, labels, epoch, step, index=None, weights=None):
        base = tf.stack([tf.cast(seed, tf.int64), epoch * 1_000_003 + step])
        seeds = tf.random.experimental.stateless_split(base, 6)
        images = per_sample(images, epoch, step, index, base, seeds)
        targets = labels if labels.dtype.is_floating else tf.one_hot(labels, num_classes, dtype=tf.float32)
        if weights is not None:  # one more target column: mixing mixes it with the same lambda
            targets = tf.concat([targets, weights[:, None]], axis=-1)
        images = tf.cast(images, tf.float32)
        if not mixing:
            return _split_weights(images, targets, weights is not None)

        def mixed():
            if cfg.mixup_alpha > 0 and cfg.cutmix_alpha > 0:
                use_cutmix = tf.random.stateless_uniform([], seeds[3]) < cfg.switch_prob
                return tf.cond(use_cutmix,
                               lambda: cutmix(images, targets, cfg.cutmix_alpha, seeds[4]),
                               lambda: mixup(images, targets, cfg.mixup_alpha, seeds[4]))
            if cfg.cutmix_alpha > 0:
                return cutmix(images, targets, cfg.cutmix_alpha, seeds[4])
            return mixup(images, targets, cfg.mixup_alpha, seeds[4])

        mix_now = (epoch < last_mix_epoch) & (tf.random.stateless_uniform([], seeds[5]) < cfg.mix_prob)
        return _split_weights(*tf.cond(mix_now, mixed, lambda: (images, targets)), weights is not None)

    return transform


def _split_weights(images, targets, weighted: bool):
    """(images, targets) or, with a weight column last, (images, targets, sample weights)."""
    return (images, targets[:, :-1], targets[:, -1]) if weighted else (images, targets)

