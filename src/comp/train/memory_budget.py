"""Memory a fold process needs, estimated before it starts, and the input path that fits it.

On the **memory** path a fold process holds its training rows twice (a NumPy copy out of the
memory-mapped cache, then the tensor the pipeline gathers from) and its validation rows once;
validation and test batches are read a batch at a time. On the **stream** path it holds a
window of batches (:data:`STREAM_WINDOW_BYTES`) and reads the rest from the cache's pages.
TensorFlow with the model's activations comes on top: about 1.5 GiB on a 32-px CIFAR fold
(measured: 2.4 GB peak for 120 MB of images). ``train.pipeline = "auto"`` takes the memory
path where the fold's images fit ``train.memory_budget_gb`` (:func:`input_path`). Where the
estimate exceeds the memory available, training stops before it starts with the sizes and
what to change, instead of a fold killed by the kernel ("exit -9").
"""

from __future__ import annotations

from comp.errors import CompError

FRAMEWORK_BYTES = int(1.5 * 2**30)  # TensorFlow, the model, activations of a small-image batch


def available_memory(meminfo: str = "/proc/meminfo") -> int | None:
    """MemAvailable in bytes (Linux); None where it cannot be read."""
    try:
        with open(meminfo, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


STREAM_WINDOW_BYTES = 2**29  # the stream path's batches in flight (tf.data's RAM budget)


def image_bytes(image_size) -> int:
    return int(image_size[0]) * int(image_size[1]) * 3


def input_path(pipeline: str, budget_gb: float, n_train: int, n_val: int, n_test: int, image_size) -> str:
    """``memory`` or ``stream``: the recipe's ``train.pipeline`` unless ``auto``; then memory
    where the fold's images (training, validation and test rows) fit ``budget_gb``."""
    if pipeline != "auto":
        return pipeline
    fits = image_bytes(image_size) * (n_train + n_val + n_test) <= budget_gb * 2**30
    return "memory" if fits else "stream"


def fold_memory(n_train: int, n_val: int, n_test: int, image_size: tuple[int, int], path: str = "memory") -> int:
    """Bytes a fold process needs for its images and TensorFlow (see the module docstring)."""
    if path == "stream":
        return FRAMEWORK_BYTES + STREAM_WINDOW_BYTES
    return FRAMEWORK_BYTES + image_bytes(image_size) * (2 * n_train + n_val)


def check_fold_memory(where: str, n_train: int, n_val: int, n_test: int, image_size, parallel: int = 1,
                      available: int | None = None, path: str = "memory") -> None:
    """Refuse a run whose folds (``parallel`` at a time) would not fit the available memory."""
    available = available_memory() if available is None else available
    if available is None:
        return
    needed = parallel * fold_memory(n_train, n_val, n_test, image_size, path)
    if needed > available:
        gib = 2**30
        raise CompError(
            f"{where}: a fold needs about {needed / parallel / gib:.1f} GiB of memory ({n_train:,} training and "
            f"{n_val:,} validation images at {image_size[0]}x{image_size[1]} on the {path} path, plus "
            f"{FRAMEWORK_BYTES / gib:.1f} GiB for TensorFlow){f', {parallel} at a time' if parallel > 1 else ''}, "
            f"but {available / gib:.1f} GiB is available; {'read the images from disk (--set train.pipeline=stream), ' if path == 'memory' else ''}"
            f"lower data.image_size, train on fewer images "
            f"(--subset), or run fewer folds at once (--gpus)")
