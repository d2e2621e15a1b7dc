"""Images read in batches from the memory-mapped decode cache, never all at once.

:class:`Rows` is a fold's selection of rows of the cache (its training or validation rows)
that copies nothing until a batch is asked for; :func:`row_batches` turns any row source
(an array, a memory map, :class:`Rows`) into a tf.data pipeline of uint8 batches that holds
a few batches in memory. The pages read stay in the kernel's page cache (file-backed, given
back under memory pressure), not in the process's anonymous memory.

Example::

    rows = Rows(np.load("data/.cache/x/train-224x224.npy", mmap_mode="r"), np.flatnonzero(fold != 0))
    for batch in row_batches(rows, 256):
        ...
"""

from __future__ import annotations

import numpy as np


class Rows:
    """Rows ``index`` of ``source`` (N, H, W, C), read on demand.

    Integer arrays and slices read those rows (in the order asked) into a new array;
    ``np.asarray(rows)`` reads them all (the in-memory path does that on purpose).
    """

    def __init__(self, source: np.ndarray, index: np.ndarray):
        self.source = source
        self.index = np.asarray(index, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self.source.shape[1:])

    @property
    def dtype(self):
        return self.source.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.source.dtype.itemsize

    def __getitem__(self, key) -> np.ndarray:
        """``rows[i]``, ``rows[a:b]``, ``rows[idx]``, and with more axes ``rows[:n, top:bottom, left:right]``."""
        if isinstance(key, tuple):
            return np.asarray(self.source[(self.index[key[0]], *key[1:])])
        return np.asarray(self.source[self.index[key]])

    def __array__(self, dtype=None, copy=None):
        out = self.source[self.index]
        return out if dtype is None else out.astype(dtype)


class Stacked:
    """Two row sources one after the other (a fold's training rows, then its pseudo-labelled
    test rows), read on demand: ``stacked[idx]`` reads each part's rows and keeps ``idx``'s order."""

    def __init__(self, first, second):
        self.first, self.second = first, second
        self.split = len(first)

    def __len__(self) -> int:
        return self.split + len(self.second)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.first.shape[1:])

    @property
    def dtype(self):
        return self.first.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def __getitem__(self, key) -> np.ndarray:
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        idx = np.arange(len(self))[key]
        if idx.ndim == 0:
            return self[np.array([idx]), *rest][0]
        out = np.empty((len(idx), *self.shape[1:]), self.dtype)[(slice(None), *rest)]
        low = idx < self.split
        out[low] = np.asarray(self.first[(idx[low], *rest)])
        out[~low] = np.asarray(self.second[(idx[~low] - self.split, *rest)])
        return out

    def __array__(self, dtype=None, copy=None):
        out = np.concatenate([np.asarray(self.first), np.asarray(self.second)])
        return out if dtype is None else out.astype(dtype)


def is_streamed(x) -> bool:
    """Whether ``x`` is read from disk on demand (a memory map, or rows of one)."""
    if isinstance(x, Stacked):
        return is_streamed(x.first) or is_streamed(x.second)
    return isinstance(x, (Rows, np.memmap))


def row_batches(x, batch_size: int):
    """uint8 batches of ``x`` in row order (the last one smaller), read one batch per call.

    The same for arrays in memory and for the cache on disk: slicing an array costs nothing,
    and only the batches in flight (tf.data's few) are ever copied, where ``from_tensor_slices``
    would copy the whole set into a tensor first.
    """
    from comp.tf_quiet import plain_graph, tf

    n = len(x)
    shape = tuple(x.shape[1:])

    def load(start):
        stop = min(int(start) + batch_size, n)
        return np.array(x[int(start):stop], dtype=np.uint8)  # a copy: never a view into the map

    @plain_graph
    def read(start):
        batch = tf.numpy_function(load, [start], tf.uint8, stateful=False)
        batch.set_shape((None, *shape))
        return batch

    return tf.data.Dataset.range(0, n, batch_size).map(read, num_parallel_calls=2, deterministic=True)
