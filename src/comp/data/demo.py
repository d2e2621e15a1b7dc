"""Builders that write a competition's data on first use.

``sklearn-digits``: scikit-learn's bundled handwritten digits (1,797 8x8 images) in the Dacon
layout: ``train/<digit>/<nnnn>.png``, ``test/TEST_<nnnn>.png``, ``sample_submission.csv``,
and ``answers.csv`` (the test labels, since they are known).

``upscaled-cifar10``: ``data/dacon-cifar10`` with every image upscaled to the spec's
``data.image_size`` (:mod:`comp.data.upscaled`), for measuring what larger inputs cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from comp.files.atomic import atomic_dir, sweep_temporary
from comp.errors import CompError
from comp.config.spec import Competition


def build_sklearn_digits(root: Path, test_fraction: float = 0.2, seed: int = 0) -> None:
    """Write the digits competition into ``root`` (built in a temporary folder, then renamed)."""
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    labels = digits.target.astype(str)
    idx = np.arange(len(images))
    train_idx, test_idx = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    with atomic_dir(root, "the sklearn-digits data") as tmp:  # the folder appears complete or not at all
        for i in sorted(train_idx):
            d = tmp / "train" / labels[i]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i], mode="L").save(d / f"{i:04d}.png")
        (tmp / "test").mkdir()
        ids = []
        for n, i in enumerate(sorted(test_idx)):
            ids.append(f"TEST_{n:04d}")
            Image.fromarray(images[i], mode="L").save(tmp / "test" / f"{ids[-1]}.png")
        truth = labels[sorted(test_idx)]
        pd.DataFrame({"id": ids, "target": "0"}).to_csv(tmp / "sample_submission.csv", index=False)
        pd.DataFrame({"id": ids, "target": truth}).to_csv(tmp / "answers.csv", index=False)


def build_upscaled_cifar10(competition: Competition) -> None:
    """Dacon's CIFAR-10 upscaled to the spec's data.image_size (:mod:`comp.data.upscaled`)."""
    from comp.data.upscaled import build_upscaled_cifar10 as build

    build(competition.root, competition.data.image_size)


# Each builder writes a competition's data from its spec; keys are spec.DataSpec.builder's choices.
BUILDERS = {
    "sklearn-digits": lambda competition: build_sklearn_digits(competition.root),
    "upscaled-cifar10": build_upscaled_cifar10,
}


def ensure_data(competition: Competition, say=print) -> None:
    """Build the competition's data if its spec names a builder and the folder is missing; unpack
    its inner archives (``data.archives``: once, :mod:`comp.data.archives`)."""
    if competition.data.builder and not competition.root.exists():
        sweep_temporary(competition.root.parent)  # what a killed build left
        try:
            BUILDERS[competition.data.builder](competition)
        except OSError as e:
            raise CompError(f"{competition.root}: cannot build the {competition.data.builder} data ({e})") from None
    if competition.data.archives:
        from comp.data.archives import unpack_archives

        unpack_archives(competition.root, competition.data.archives, say)
