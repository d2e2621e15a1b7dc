"""Memory a fold process needs, estimated before it starts, against what the machine has.

A fold process holds the training rows twice (a NumPy copy out of the memory-mapped cache,
then the tensor the pipeline gathers from), the validation rows twice (NumPy, then the
dataset), the test images once, and TensorFlow with the model's activations: about 1.5 GiB on
a 32-px CIFAR fold (measured: 2.4 GB peak for 120 MB of images). Where the estimate exceeds
the memory available, training stops before it starts with the sizes and what to change,
instead of a fold killed by the kernel ("exit -9").
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


def fold_memory(n_train: int, n_val: int, n_test: int, image_size: tuple[int, int]) -> int:
    """Bytes a fold process needs for its images and TensorFlow (see the module docstring)."""
    per_image = int(image_size[0]) * int(image_size[1]) * 3
    return FRAMEWORK_BYTES + per_image * (2 * n_train + 2 * n_val + n_test)


def check_fold_memory(where: str, n_train: int, n_val: int, n_test: int, image_size, parallel: int = 1,
                      available: int | None = None) -> None:
    """Refuse a run whose folds (``parallel`` at a time) would not fit the available memory."""
    available = available_memory() if available is None else available
    if available is None:
        return
    needed = parallel * fold_memory(n_train, n_val, n_test, image_size)
    if needed > available:
        gib = 2**30
        raise CompError(
            f"{where}: a fold needs about {needed / parallel / gib:.1f} GiB of memory ({n_train:,} training and "
            f"{n_val:,} validation images at {image_size[0]}x{image_size[1]}, each held twice, plus "
            f"{FRAMEWORK_BYTES / gib:.1f} GiB for TensorFlow){f', {parallel} at a time' if parallel > 1 else ''}, "
            f"but {available / gib:.1f} GiB is available; lower data.image_size, train on fewer images "
            f"(--subset), or run fewer folds at once (--gpus)")
