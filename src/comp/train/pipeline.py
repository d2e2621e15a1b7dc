"""Input pipelines: endless augmented training batches, and plain evaluation batches.

Training batches are a pure function of (seed, epoch, step): a resumed fold sees the same
batches it would have seen.
"""

from __future__ import annotations

import numpy as np

from comp.augment import make_train_transform
from comp.recipe import Recipe
from comp.tf_quiet import tf


def train_dataset(x: np.ndarray, y: np.ndarray, recipe: Recipe, num_classes: int, batch_size: int,
                  initial_epoch: int = 0) -> tf.data.Dataset:
    """Endless (images, soft targets) batches; epoch e's order is a function of (seed, e).

    Images stay uint8 until after augmentation; the whole array is one tensor that index
    batches gather from (``from_tensor_slices`` would copy it per element).
    """
    n = len(x)
    steps = n // batch_size
    seed = recipe.train.seed
    with tf.device("/CPU:0"):
        images = tf.constant(np.asarray(x))
        labels = tf.constant(np.asarray(y, dtype=np.int32))
    transform = make_train_transform(recipe.augment, num_classes, seed, recipe.train.epochs)

    def epoch_batches(epoch):
        order = tf.argsort(tf.random.stateless_uniform([n], tf.stack([tf.cast(seed, tf.int64), epoch])))
        idx = tf.reshape(order[: steps * batch_size], [steps, batch_size])
        return tf.data.Dataset.from_tensor_slices(idx).enumerate().map(lambda s, i: (epoch, s, i))

    def load(epoch, step, idx):
        return transform(tf.gather(images, idx), tf.gather(labels, idx), epoch, step, idx)

    # Epochs past the planned number repeat the last one's schedule of draws (BackupAndRestore
    # restarts a fold mid-way; fit stops at recipe.train.epochs anyway).
    return (tf.data.Dataset.range(initial_epoch, recipe.train.epochs + 1).repeat()
            .flat_map(epoch_batches)
            .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def eval_dataset(x: np.ndarray, y: np.ndarray, num_classes: int, batch_size: int) -> tf.data.Dataset:
    with tf.device("/CPU:0"):
        ds = tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y, dtype=np.int32)))
    return (ds.batch(batch_size)
            .map(lambda a, b: (tf.cast(a, tf.float32), tf.one_hot(b, num_classes)),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
