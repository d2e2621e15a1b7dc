"""Builders of the competitions with one target per image and flat image folders: the files as
mlebench's prepare.py leaves them in ``public`` and the answers its grader reads in ``private``.

Each ``build_<name>(public, private, seed=0, scale=1)`` is deterministic for a seed; ``scale``
multiplies the image counts (about 60-100 training and 20-25 test images at scale 1).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from .helpers import df_to_one_hot
from .images import (balanced, digit_id, draw_all, graded_image, hex_id, make_dirs, scalar_image, unique_ids,
                     zip_folder)
from .names import CASSAVA_MAP, DOG_BREEDS, PETFINDER_FEATURES

N_TRAIN, N_TEST = 80, 24


def _split(rng: np.random.Generator, make, scale: int, k: int = 2) -> tuple:
    """Distinct ids and balanced labels for a train and a test set."""
    ids = unique_ids(rng, (N_TRAIN + N_TEST) * scale, make)
    n = N_TRAIN * scale
    return ids[:n], balanced(rng, n, k), ids[n:], balanced(rng, N_TEST * scale, k)


def build_histopathologic(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train/{id}.tif, test/{id}.tif (40-hex ids without extension), train_labels.csv (id,label),
    sample_submission.csv (id,label=0); private answers.csv (id,label)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    tr_ids, tr_y, te_ids, te_y = _split(rng, hex_id(40), scale)
    draw_all(rng, public / "train", [f"{i}.tif" for i in tr_ids], tr_y)
    draw_all(rng, public / "test", [f"{i}.tif" for i in te_ids], te_y)
    pd.DataFrame({"id": tr_ids, "label": tr_y}).to_csv(public / "train_labels.csv", index=False)
    pd.DataFrame({"id": te_ids, "label": te_y}).to_csv(private / "answers.csv", index=False)
    pd.DataFrame({"id": te_ids, "label": 0}).to_csv(public / "sample_submission.csv", index=False)


def build_cactus(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train.zip, test.zip (entries '<32-hex>.jpg', no folder), train.csv (id with .jpg, has_cactus),
    sample_submission.csv (has_cactus=0.5); private test.csv (id,has_cactus)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    tr_ids, tr_y, te_ids, te_y = _split(rng, lambda r: hex_id(32)(r) + ".jpg", scale)
    pd.DataFrame({"id": tr_ids, "has_cactus": tr_y}).to_csv(public / "train.csv", index=False)
    pd.DataFrame({"id": te_ids, "has_cactus": te_y}).to_csv(private / "test.csv", index=False)
    pd.DataFrame({"id": te_ids, "has_cactus": 0.5}).to_csv(public / "sample_submission.csv", index=False)
    for split, ids, labels in (("train", tr_ids, tr_y), ("test", te_ids, te_y)):
        draw_all(rng, public / split, ids, labels)
        zip_folder(public / split, public / f"{split}.zip")
        shutil.rmtree(public / split)


def build_dogs_vs_cats(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train/ (cat.{i}.jpg, dog.{i}.jpg) and test/ ({1..n}.jpg), both also zipped (train.zip,
    test.zip: prepare.py keeps the folders); sample_submission.csv (id,label=0.5); private
    answers.csv (id,label with 1 = dog)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    tr_y, te_y = balanced(rng, N_TRAIN * scale, 2), balanced(rng, N_TEST * scale, 2)
    counters = {0: 0, 1: 0}
    names = []
    for y in tr_y:
        names.append(f"{'dog' if y else 'cat'}.{counters[int(y)]}.jpg")
        counters[int(y)] += 1
    draw_all(rng, public / "train", names, tr_y)
    test_ids = list(range(1, len(te_y) + 1))
    draw_all(rng, public / "test", [f"{i}.jpg" for i in test_ids], te_y)
    zip_folder(public / "train", public / "train.zip")
    zip_folder(public / "test", public / "test.zip")
    pd.DataFrame({"id": test_ids, "label": te_y}).to_csv(private / "answers.csv", index=False)
    pd.DataFrame({"id": test_ids, "label": 0.5}).to_csv(public / "sample_submission.csv", index=False)


def build_dog_breed(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """labels.csv (id,breed; 32-hex ids without extension), train/{id}.jpg, test/{id}.jpg,
    sample_submission.csv (id + one probability column per breed, 1/5 each); private test.csv
    (the same columns, one-hot)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    tr_ids, tr_y, te_ids, te_y = _split(rng, hex_id(32), scale, k=len(DOG_BREEDS))
    draw_all(rng, public / "train", [f"{i}.jpg" for i in tr_ids], tr_y)
    draw_all(rng, public / "test", [f"{i}.jpg" for i in te_ids], te_y)
    breeds = np.array(DOG_BREEDS)
    pd.DataFrame({"id": tr_ids, "breed": breeds[tr_y]}).to_csv(public / "labels.csv", index=False)
    answers = df_to_one_hot(pd.DataFrame({"id": te_ids, "breed": breeds[te_y]}), "id", "breed", DOG_BREEDS)
    answers.to_csv(private / "test.csv", index=False)
    sample = answers.copy().astype({b: "float64" for b in DOG_BREEDS})
    sample[DOG_BREEDS] = 1 / len(DOG_BREEDS)
    sample.to_csv(public / "sample_submission.csv", index=False)


def build_aptos(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train_images/{id_code}.png, test_images/{id_code}.png (12-hex ids), train.csv
    (id_code,diagnosis 0-4), test.csv (id_code), sample_submission.csv (diagnosis=0); private
    test.csv (id_code,diagnosis). The grade shows as a brighter disc with more dots."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    tr_ids, tr_y, te_ids, te_y = _split(rng, hex_id(12), scale, k=5)
    draw_all(rng, public / "train_images", [f"{i}.png" for i in tr_ids], tr_y, graded_image)
    draw_all(rng, public / "test_images", [f"{i}.png" for i in te_ids], te_y, graded_image)
    pd.DataFrame({"id_code": tr_ids, "diagnosis": tr_y}).to_csv(public / "train.csv", index=False)
    pd.DataFrame({"id_code": te_ids, "diagnosis": te_y}).to_csv(private / "test.csv", index=False)
    pd.DataFrame({"id_code": te_ids}).to_csv(public / "test.csv", index=False)
    pd.DataFrame({"id_code": te_ids, "diagnosis": 0}).to_csv(public / "sample_submission.csv", index=False)


def build_cassava(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train_images/, test_images/ ('<10 digits>.jpg'; the image_id keeps the extension), train.csv
    (image_id,label 0-4), sample_submission.csv (label=4), label_num_to_disease_map.json; private
    test.csv (image_id,label). The train_tfrecords/ and test_tfrecords/ folders prepare.py also
    copies are left out: they hold the same images in TFRecord form."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    tr_ids, tr_y, te_ids, te_y = _split(rng, lambda r: digit_id(10)(r) + ".jpg", scale, k=5)
    draw_all(rng, public / "train_images", tr_ids, tr_y)
    draw_all(rng, public / "test_images", te_ids, te_y)
    pd.DataFrame({"image_id": tr_ids, "label": tr_y}).to_csv(public / "train.csv", index=False)
    pd.DataFrame({"image_id": te_ids, "label": te_y}).to_csv(private / "test.csv", index=False)
    pd.DataFrame({"image_id": te_ids, "label": 4}).to_csv(public / "sample_submission.csv", index=False)
    (public / "label_num_to_disease_map.json").write_text(json.dumps(CASSAVA_MAP))


def _pawpularity_image(rng: np.random.Generator, score: int, size: int = 32) -> np.ndarray:
    """A Pawpularity of 1-100 as a circle growing with it."""
    return scalar_image(rng, (score - 1) / 99, size)


def build_petfinder(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train/{Id}.jpg, test/{Id}.jpg (32-hex ids), train.csv (Id, 12 photo-metadata 0/1 columns,
    Pawpularity 1-100), test.csv (the same less Pawpularity), sample_submission.csv (Id, random
    Pawpularity in [1, 100] with 2 decimals); private test.csv (train.csv's columns). The score
    shows as a circle growing larger and brighter with it."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    n_train, n_test = N_TRAIN * scale, N_TEST * scale
    ids = unique_ids(rng, n_train + n_test, hex_id(32))
    table = pd.DataFrame({"Id": ids})
    for feature in PETFINDER_FEATURES:
        table[feature] = (rng.random(len(ids)) < (0.8 if feature in ("Eyes", "Face", "Near") else 0.2)).astype(int)
    table["Pawpularity"] = rng.integers(1, 101, len(ids))
    train, test = table.iloc[:n_train], table.iloc[n_train:]
    draw_all(rng, public / "train", [f"{i}.jpg" for i in train["Id"]], train["Pawpularity"], _pawpularity_image)
    draw_all(rng, public / "test", [f"{i}.jpg" for i in test["Id"]], test["Pawpularity"], _pawpularity_image)
    train.to_csv(public / "train.csv", index=False)
    test.to_csv(private / "test.csv", index=False)
    test.drop(columns=["Pawpularity"]).to_csv(public / "test.csv", index=False)
    sample = test[["Id"]].copy()
    sample["Pawpularity"] = rng.uniform(1, 100, len(sample)).round(2)
    sample.to_csv(public / "sample_submission.csv", index=False)
