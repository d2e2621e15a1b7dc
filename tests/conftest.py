"""Shared fixtures: a tiny generated competition and a recipe that trains in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLASSES = ["circle", "square", "stripe"]


def make_image(kind: str, rng: np.random.Generator, size: int = 12) -> np.ndarray:
    """A small RGB image whose class is easy to learn: a blob, a box or stripes, plus noise."""
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    c = size / 2 + rng.uniform(-1, 1, 2)
    if kind == "circle":
        mask = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 < (size / 3) ** 2
        img[mask] = [230, 40, 40]
    elif kind == "square":
        mask = (abs(yy - c[0]) < size / 3) & (abs(xx - c[1]) < size / 3)
        img[mask] = [40, 230, 40]
    else:
        img[(xx // 2) % 2 == 0] = [40, 40, 230]
    return img


def write_class_folders(root: Path, per_class: int = 12, n_test: int = 9, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for cls in CLASSES:
        d = root / "train" / cls
        d.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(make_image(cls, rng)).save(d / f"{i:04d}.png")
    (root / "test").mkdir(parents=True)
    ids = []
    for i in range(n_test):
        ids.append(f"TEST_{i:03d}")
        Image.fromarray(make_image(CLASSES[i % 3], rng)).save(root / "test" / f"{ids[-1]}.png")
    pd.DataFrame({"id": ids, "target": CLASSES[0]}).to_csv(root / "sample_submission.csv", index=False)
    pd.DataFrame({"id": ids, "target": [CLASSES[i % 3] for i in range(n_test)]}).to_csv(
        root / "answers.csv", index=False)


TINY_SPEC = """\
name = "tiny"
title = "tiny generated shapes"
metric = "accuracy"

[data]
root = "data/tiny"
layout = "class-folders"
sample_submission = "sample_submission.csv"
answers = "answers.csv"
image_size = [12, 12]

[submission]
id_column = "id"
target_column = "target"
target_format = "name"

[rules]
pretrained_weights = false
"""

TINY_RECIPE = """\
name = "tiny"
description = "two small stages, a few epochs: for tests"

[model]
name = "vgg"
widths = [8, 16]
convs_per_stage = 1
dropout = 0.0

[augment]
preset = "light"
flip = true
mixup_alpha = 0.2

[train]
epochs = 2
batch_size = 8
lr = 0.02
warmup_epochs = 0.5
seed = 1

[predict]
tta = "flip"
batch_size = 32
"""


@pytest.fixture
def tiny_competition(tmp_path, monkeypatch) -> Path:
    """A working directory with competition/tiny.toml, competition/recipes/tiny.toml and data/tiny/.

    3 classes x 12 train images and 9 test images of 12x12 pixels.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "competition" / "recipes").mkdir(parents=True)
    (tmp_path / "competition" / "tiny.toml").write_text(TINY_SPEC)
    (tmp_path / "competition" / "recipes" / "tiny.toml").write_text(TINY_RECIPE)
    write_class_folders(tmp_path / "data" / "tiny")
    return tmp_path


@pytest.fixture(autouse=True)
def _float32_policy_after_each_test():
    """Training sets Keras' global precision policy (mixed_bfloat16 on AMX CPUs); folds run in
    processes of their own, but tests share one, so each test starts from float32 again."""
    yield
    from comp.tf_quiet import keras

    keras.mixed_precision.set_global_policy("float32")
