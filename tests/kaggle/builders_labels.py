"""Builders of the competitions with several labels per image or label lists in one column
(plant-pathology 2020/2021, ranzcr, imet), class sub-folders (plant-seedlings) and top-5 ids
(whale). Several labels show as one coloured patch per label, each at its own place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .builders_basic import N_TEST, N_TRAIN
from .images import (balanced, class_image, digit_id, draw_all, hex_id, label_matrix, make_dirs, multilabel_image,
                     save, unique_ids)
from .names import (IMET_ATTRIBUTES, PLANT_2020_COLUMNS, PLANT_2021_LABELS, PLANT_2021_SETS, RANZCR_ALL,
                    RANZCR_GRADED, RANZCR_UID_PREFIX, SEEDLINGS, WHALE_SAMPLE, WHALES)


def _one_hot(ids: list[str], id_col: str, labels: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``id_col`` then one 0/1 column per class name, from class indices."""
    table = pd.DataFrame({id_col: ids})
    for j, name in enumerate(columns):
        table[name] = (labels == j).astype(int)
    return table


def build_plant_2020(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """images/ holding Train_{i}.jpg and Test_{i}.jpg, train.csv (image_id without extension,
    healthy, multiple_diseases, rust, scab as 0/1), test.csv (image_id), sample_submission.csv
    (0.25 each); private test.csv (train.csv's columns)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    n_train, n_test = N_TRAIN * scale, N_TEST * scale
    tr_y, te_y = balanced(rng, n_train, 4), balanced(rng, n_test, 4)
    tr_ids, te_ids = [f"Train_{i}" for i in range(n_train)], [f"Test_{i}" for i in range(n_test)]
    draw_all(rng, public / "images", [f"{i}.jpg" for i in tr_ids + te_ids], np.concatenate([tr_y, te_y]))
    _one_hot(tr_ids, "image_id", tr_y, PLANT_2020_COLUMNS).to_csv(public / "train.csv", index=False)
    _one_hot(te_ids, "image_id", te_y, PLANT_2020_COLUMNS).to_csv(private / "test.csv", index=False)
    pd.DataFrame({"image_id": te_ids}).to_csv(public / "test.csv", index=False)
    sample = pd.DataFrame({"image_id": te_ids})
    sample[PLANT_2020_COLUMNS] = 0.25
    sample.to_csv(public / "sample_submission.csv", index=False)


def build_plant_2021(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train_images/, test_images/ ('<16-hex>.jpg'; the image column keeps the extension),
    train.csv (image, labels: space-separated, e.g. 'scab frog_eye_leaf_spot complex'),
    sample_submission.csv (labels=healthy); private answers.csv (image,labels)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    n_train, n_test = N_TRAIN * scale, N_TEST * scale
    ids = unique_ids(rng, n_train + n_test, lambda r: hex_id(16)(r) + ".jpg")
    sets = np.array(PLANT_2021_SETS)
    labels = np.concatenate([sets[balanced(rng, n_train, len(sets))], sets[balanced(rng, n_test, len(sets))]])
    for i, (name, text) in enumerate(zip(ids, labels)):
        cues = [PLANT_2021_LABELS.index(label) for label in text.split()]
        folder = "train_images" if i < n_train else "test_images"
        save(multilabel_image(rng, cues, len(PLANT_2021_LABELS), size=32), public / folder / name)
    table = pd.DataFrame({"image": ids, "labels": labels})
    table.iloc[:n_train].to_csv(public / "train.csv", index=False)
    table.iloc[n_train:].to_csv(private / "answers.csv", index=False)
    table.iloc[n_train:].assign(labels="healthy").to_csv(public / "sample_submission.csv", index=False)


def _ranzcr_annotations(rng: np.random.Generator, table: pd.DataFrame, size: int) -> pd.DataFrame:
    """train_annotations.csv: for about half of the labels present, a polyline of [x, y] points."""
    rows = []
    for _, row in table.iterrows():
        for name in RANZCR_ALL:
            if row[name] and rng.random() < 0.5:
                points = np.sort(rng.integers(0, size, (int(rng.integers(3, 7)), 2)), axis=0)
                data = "[" + ", ".join(f"[{x}, {y}]" for x, y in points) + "]"
                rows.append({"StudyInstanceUID": row["StudyInstanceUID"], "label": name, "data": data})
    return pd.DataFrame(rows, columns=["StudyInstanceUID", "label", "data"])


def build_ranzcr(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train/{uid}.jpg, test/{uid}.jpg (StudyInstanceUID '1.2.826.0.1.3680043.8.498.<38 digits>'
    without extension), train.csv (StudyInstanceUID, the 11 label columns, PatientID), train_annotations.csv
    (StudyInstanceUID,label,data), sample_submission.csv (StudyInstanceUID + mlebench's 9 graded
    columns, 0); private test.csv (train.csv's columns)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    n_train, n_test = N_TRAIN * scale, N_TEST * scale
    uids = unique_ids(rng, n_train + n_test, digit_id(38, RANZCR_UID_PREFIX))
    patients = unique_ids(rng, (n_train + n_test) // 2 + 1, hex_id(9))
    marks = np.concatenate([label_matrix(rng, n_train, len(RANZCR_ALL), 0.3, least=6),
                            label_matrix(rng, n_test, len(RANZCR_ALL), 0.3, least=2)])
    table = pd.DataFrame(marks, columns=RANZCR_ALL)
    table.insert(0, "StudyInstanceUID", uids)
    table["PatientID"] = [patients[i // 2] for i in rng.permutation(len(uids))]
    for i, uid in enumerate(uids):
        folder = "train" if i < n_train else "test"
        save(multilabel_image(rng, np.flatnonzero(marks[i]), len(RANZCR_ALL), size=48), public / folder / f"{uid}.jpg")
    train, test = table.iloc[:n_train], table.iloc[n_train:]
    train.to_csv(public / "train.csv", index=False)
    _ranzcr_annotations(rng, train, 48).to_csv(public / "train_annotations.csv", index=False)
    test.to_csv(private / "test.csv", index=False)
    sample = test[["StudyInstanceUID"] + RANZCR_GRADED].copy()
    sample[RANZCR_GRADED] = 0
    sample.to_csv(public / "sample_submission.csv", index=False)


def build_imet(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train/{id}.png, test/{id}.png (32-hex ids without extension), train.csv (id, attribute_ids:
    space-separated attribute numbers), labels.csv (attribute_id,attribute_name),
    sample_submission.csv (attribute_ids='0 1 2'); private answers.csv (id,attribute_ids)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    n_train, n_test, k = N_TRAIN * scale, N_TEST * scale, len(IMET_ATTRIBUTES)
    ids = unique_ids(rng, n_train + n_test, hex_id(32))
    marks = np.concatenate([label_matrix(rng, n_train, k, 0.25, least=6), label_matrix(rng, n_test, k, 0.25)])
    for row in marks:
        if not row.any():
            row[rng.integers(k)] = 1
    texts = []
    for i, (name, row) in enumerate(zip(ids, marks)):
        present = rng.permutation(np.flatnonzero(row))
        texts.append(" ".join(str(a) for a in present))
        save(multilabel_image(rng, present, k, size=48), public / ("train" if i < n_train else "test") / f"{name}.png")
    table = pd.DataFrame({"id": ids, "attribute_ids": texts})
    table.iloc[:n_train].to_csv(public / "train.csv", index=False)
    table.iloc[n_train:].to_csv(private / "answers.csv", index=False)
    table.iloc[n_train:].assign(attribute_ids="0 1 2").to_csv(public / "sample_submission.csv", index=False)
    names = pd.DataFrame({"attribute_id": range(k), "attribute_name": IMET_ATTRIBUTES})
    names.to_csv(public / "labels.csv", index=False)


def build_seedlings(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train/<species>/<file>.png (one folder per species, names with spaces), test/<file>.png
    ('<9-hex>.png'), sample_submission.csv (file,species='Sugar beet'); no train.csv; private
    answers.csv (file,species)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    k = len(SEEDLINGS)
    files = unique_ids(rng, (N_TRAIN + N_TEST) * scale, lambda r: hex_id(9)(r) + ".png")
    n_train = N_TRAIN * scale
    tr_y, te_y = balanced(rng, n_train, k), balanced(rng, N_TEST * scale, k)
    for name, y in zip(files[:n_train], tr_y):
        save(class_image(rng, y), public / "train" / SEEDLINGS[y] / name)
    draw_all(rng, public / "test", files[n_train:], te_y)
    answers = pd.DataFrame({"file": files[n_train:], "species": np.array(SEEDLINGS)[te_y]})
    answers.to_csv(private / "answers.csv", index=False)
    answers.assign(species="Sugar beet").to_csv(public / "sample_submission.csv", index=False)


def build_whale(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train/, test/ ('<8-hex>.jpg'), train.csv (Image with extension, Id: 'w_<7-hex>' or
    'new_whale'), sample_submission.csv (Id='new_whale w_1287fbc w_98baff9 w_7554f44 w_1eafe46');
    private test.csv (Image,Id; some rows new_whale). 8 whales, new_whale a class of its own."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    whales = WHALES + ["new_whale"]
    tr_k = np.concatenate([np.repeat(np.arange(len(WHALES)), 7 * scale), np.full(12 * scale, len(WHALES))])
    te_k = np.concatenate([np.repeat(np.arange(len(WHALES)), 2 * scale), np.full(8 * scale, len(WHALES))])
    tr_k, te_k = rng.permutation(tr_k), rng.permutation(te_k)
    images = unique_ids(rng, len(tr_k) + len(te_k), lambda r: hex_id(8)(r) + ".jpg")
    tr_img, te_img = images[:len(tr_k)], images[len(tr_k):]
    draw_all(rng, public / "train", tr_img, tr_k)
    draw_all(rng, public / "test", te_img, te_k)
    names = np.array(whales)
    pd.DataFrame({"Image": tr_img, "Id": names[tr_k]}).to_csv(public / "train.csv", index=False)
    answers = pd.DataFrame({"Image": te_img, "Id": names[te_k]})
    answers.to_csv(private / "test.csv", index=False)
    answers.assign(Id=WHALE_SAMPLE).to_csv(public / "sample_submission.csv", index=False)
