"""How long an exported kernel will predict, measured on this machine, and what fits a code
competition's time limit (``[platform] kernel_time_limit``, in hours).

:func:`measure` decodes a sample of the test images and predicts it with one fold model and the
plain view: seconds per image to decode, and per image per model per view to predict. The
kernel's time is then ``decode + models x views(share) x predict`` per image, times the test
images (``--test-images``: the hidden test set, where it is larger than the public one), with
``views(share) = 1 + share x (views - 1)`` under selective TTA (:func:`comp.predict.probs.predict_proba`).

:func:`fit_to_limit` keeps the runs' share where that fits within :data:`SAFETY` of the limit,
else cuts the share (the first lever: the extra views for fewer, least sure images), and refuses
where even the plain view alone would not fit. The measurement is of this machine: Kaggle's
may be slower or faster (a GPU kernel much faster); the kernel prints its own expectation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from comp.errors import CompError

SAMPLE = 256  # test images decoded and predicted to measure
SAFETY = 0.8  # the share of the time limit an export may plan to use
SHARES = (1.0, 0.5, 0.25, 0.1, 0.0)  # selective-TTA shares tried, largest first


@dataclass
class Timing:
    decode_s: float  # per image
    predict_s: float  # per image, per model, per view
    machine: str

    def seconds(self, n_images: int, n_models: int, views: int, share: float) -> float:
        """The kernel's expected time for ``n_images`` images."""
        per_view = 1 + share * (views - 1)
        return n_images * (self.decode_s + n_models * per_view * self.predict_s)


def duration(seconds: float) -> str:
    """A time as a person reads it: seconds under two minutes, else minutes (hours past two)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def machine() -> str:
    """This machine, as a figure should name it: CPU model and cores, or the GPU."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def measure(model, paths: list[str], size: tuple[int, int], batch_size: int, activation: str) -> Timing:
    """Decode up to :data:`SAMPLE` of ``paths`` and predict them once with ``model`` (after a warm-up batch)."""
    from comp.data.images import load_images
    from comp.predict.probs import predict_proba

    sample = paths[:SAMPLE]
    started = time.perf_counter()
    images = load_images(sample, size, None, "timing sample")
    decode = (time.perf_counter() - started) / len(sample)
    predict_proba(model, images[: min(len(images), batch_size)], "none", batch_size, activation=activation)  # warm-up
    started = time.perf_counter()
    predict_proba(model, np.asarray(images), "none", batch_size, activation=activation)
    return Timing(decode, (time.perf_counter() - started) / len(sample), machine())


def fit_to_limit(timing: Timing, limit_hours: float | None, n_images: int, n_models: int, views: int,
                 share: float, say) -> float:
    """The selective-TTA share the export uses: ``share`` where it fits the limit, else the largest
    of :data:`SHARES` below it that does; one line refusing where none does."""
    expected = timing.seconds(n_images, n_models, views, share)
    say(f"expected kernel time: {duration(expected)} for {n_images} test images x {n_models} model(s) x "
        f"{1 + share * (views - 1):g} view(s) (measured here: {timing.predict_s * 1000:.2f} ms per image per "
        f"model and view, {timing.decode_s * 1000:.2f} ms to decode; {timing.machine})")
    if limit_hours is None:
        return share
    budget = SAFETY * limit_hours * 3600
    if expected <= budget:
        say(f"fits the kernel time limit of {limit_hours:g} h (planned within {SAFETY:.0%} of it)")
        return share
    for smaller in [s for s in SHARES if s < share]:
        if views > 1 and timing.seconds(n_images, n_models, views, smaller) <= budget:
            say(f"TTA cut to fit the {limit_hours:g} h limit: the extra views for the {smaller:g} least sure "
                f"images only (predict.tta_share {share:g} -> {smaller:g})")
            return smaller
    plain = timing.seconds(n_images, n_models, 1, 0.0)
    raise CompError(f"the kernel would need about {plain / 3600:.1f} h for {n_images} test images with "
                    f"{n_models} model(s) and no TTA, over {SAFETY:.0%} of [platform] kernel_time_limit = "
                    f"{limit_hours:g} h: export fewer runs or folds, or a smaller model")
