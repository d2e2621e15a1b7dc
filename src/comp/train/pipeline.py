"""Input pipelines: endless augmented training batches, and plain evaluation batches.

Training batches are a pure function of (seed, epoch, step): a resumed fold sees the same
batches it would have seen, and the in-memory and streaming paths see the same batches.

Two paths, one order: the **memory** path gathers each batch from one tensor holding the
fold's training rows; the **stream** path reads each batch's rows from the memory-mapped
decode cache (:mod:`comp.data.stream`), so a fold holds a few batches in memory whatever the
data set's size. ``train.pipeline`` picks one (``auto``: :func:`comp.train.memory_budget.input_path`).
"""

from __future__ import annotations

import numpy as np

from comp.augment.transform import make_train_transform
from comp.augment.ops import centre_crop
from comp.data.stream import is_streamed, row_batches
from comp.config.recipe import Recipe
from comp.train.balance import sample_weights, sampled_order, sampling_cdf
from comp.train.memory_budget import STREAM_WINDOW_BYTES
from comp.tf_quiet import plain_graph, tf


def epoch_order(seed: int, epoch, n: int):
    """The training rows' order in ``epoch``: a function of (seed, epoch) only."""
    return tf.argsort(tf.random.stateless_uniform([n], tf.stack([tf.cast(seed, tf.int64), epoch])))


def train_dataset(x, y: np.ndarray, recipe: Recipe, num_classes: int, batch_size: int,
                  initial_epoch: int = 0, weights: np.ndarray | None = None,
                  mix_epochs: int | None = None) -> tf.data.Dataset:
    """Endless (images, soft targets[, sample weights]) batches; epoch e's order is a function of (seed, e).

    ``x``: an array in memory (the memory path) or a memory map / :class:`comp.data.stream.Rows`
    (the stream path). Images stay uint8 until after augmentation. ``y``: integer labels, or
    float targets (rows x classes, a teacher's: :mod:`comp.train.teacher`); ``weights``: one
    loss weight per row, or None (all 1). ``train.class_balance`` (:mod:`comp.train.balance`)
    multiplies them by class weights, or draws each epoch's rows by class. ``mix_epochs``: the
    epochs ``augment.mix_off_epochs`` counts back from (a time budget's plan; None: ``train.epochs``).
    """
    n = len(x)
    steps = n // batch_size
    seed = recipe.train.seed
    y, balance = np.asarray(y), recipe.train.class_balance
    weights = sample_weights(balance, y, num_classes, weights)
    with tf.device("/CPU:0"):
        labels = tf.constant(y.astype(np.float32) if y.ndim == 2 else y.astype(np.int32))
        row_weights = None if weights is None else tf.constant(np.asarray(weights, dtype=np.float32))
        cdf = tf.constant(sampling_cdf(y)) if balance == "sampling" else None
    gather = _stream_gather(x) if is_streamed(x) else _memory_gather(x)
    transform = make_train_transform(recipe.augment, num_classes, seed, mix_epochs or recipe.train.epochs)

    @plain_graph
    def epoch_batches(epoch):
        order = epoch_order(seed, epoch, n) if cdf is None else sampled_order(seed, epoch, cdf)
        idx = tf.reshape(order[: steps * batch_size], [steps, batch_size])
        return tf.data.Dataset.from_tensor_slices(idx).enumerate().map(plain_graph(lambda s, i: (epoch, s, i)))

    @plain_graph
    def load(epoch, step, idx):
        batch_weights = None if row_weights is None else tf.gather(row_weights, idx)
        return transform(gather(idx), tf.gather(labels, idx), epoch, step, idx, batch_weights)

    # Epochs past the planned number repeat the last one's schedule of draws (BackupAndRestore
    # restarts a fold mid-way; fit stops at recipe.train.epochs anyway).
    ds = (tf.data.Dataset.range(initial_epoch, recipe.train.epochs + 1).repeat()
          .flat_map(epoch_batches)
          .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .prefetch(tf.data.AUTOTUNE))
    return ds.with_options(_bounded()) if is_streamed(x) else ds


def _memory_gather(x: np.ndarray):
    """Batches gathered from one tensor of all the rows (``from_tensor_slices`` would copy it per element)."""
    with tf.device("/CPU:0"):
        images = tf.constant(np.asarray(x))
    return lambda idx: tf.gather(images, idx)


def _stream_gather(x):
    """Batches read from the cache on disk, one NumPy call per batch (never one per image)."""
    shape = tuple(x.shape[1:])

    def gather(idx):
        batch = tf.numpy_function(lambda i: np.asarray(x[i]), [idx], tf.uint8, stateful=False)
        batch.set_shape((None, *shape))
        return batch

    return gather


def _bounded() -> tf.data.Options:
    options = tf.data.Options()
    options.autotune.ram_budget = STREAM_WINDOW_BYTES  # what tf.data may buffer: the memory check counts it
    return options


def eval_dataset(x, y: np.ndarray, num_classes: int, batch_size: int, crop: float = 1.0) -> tf.data.Dataset:
    """(float32 images, one-hot targets) batches in row order, read a batch at a time; ``crop``:
    the centre crop that prediction sees (``predict.crop``), so the best epoch is chosen on it.
    ``y``: class indices, or float targets (rows x columns: a sigmoid head's), used as they are."""
    y = np.asarray(y)
    with tf.device("/CPU:0"):
        dense = y.astype(np.float32) if y.ndim == 2 else tf.one_hot(y.astype(np.int32), num_classes)
        targets = tf.data.Dataset.from_tensor_slices(dense)
    images = row_batches(x, batch_size).map(plain_graph(lambda a: centre_crop(a, crop)))
    return tf.data.Dataset.zip((images, targets.batch(batch_size))).prefetch(tf.data.AUTOTUNE)
