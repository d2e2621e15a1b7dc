"""Builders of the competitions whose files carry metadata: siim-isic (patients, JPEG and DICOM
copies), herbarium-2020 (COCO-style metadata.json, nested folders) and iwildcam-2019 (camera-trap
CSVs, zipped image folders, a sample submission written with its index)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .builders_basic import N_TEST, N_TRAIN
from .images import balanced, class_image, digit_id, hex_id, make_dirs, save, unique_ids, zip_folder
from .names import (HERBARIUM_CATEGORIES, HERBARIUM_SPECIES, IWILDCAM_CATEGORIES, IWILDCAM_TRAIN_COLUMNS,
                    SIIM_BENIGN, SIIM_SITES, SIIM_TRAIN_COLUMNS)

# The .dcm copies in siim's train/ and test/ are written only where pydicom can be imported (an
# optional dependency, in the dev extra); without it those two folders are left out.
HAS_DICOM = importlib.util.find_spec("pydicom") is not None


def write_dicom(img: np.ndarray, path: Path, name: str, patient: str) -> None:
    """A small valid DICOM file (uncompressed RGB, secondary capture) holding ``img``."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    uid = generate_uid(entropy_srcs=[name])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, uid
    ds.StudyInstanceUID = ds.SeriesInstanceUID = generate_uid(entropy_srcs=[name, "study"])
    ds.PatientID, ds.PatientName, ds.Modality = patient, patient, "XC"
    ds.Rows, ds.Columns = img.shape[:2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(img, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if int(pydicom.__version__.split(".")[0]) >= 3:
        ds.save_as(path, enforce_file_format=True)
    else:  # pydicom 2.x
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(path, write_like_original=False)


def _siim_table(rng: np.random.Generator, names: list[str], targets: np.ndarray, patients: list[str]) -> pd.DataFrame:
    """train.csv's columns for ``names``: a few images per patient, a patient's sex and age shared."""
    of = [patients[i % len(patients)] for i in rng.permutation(len(names))]
    sex = {p: (None if rng.random() < 0.05 else str(rng.choice(["male", "female"]))) for p in patients}
    age = {p: float(rng.integers(6, 17) * 5) for p in patients}
    table = pd.DataFrame({"image_name": names, "patient_id": of, "sex": [sex[p] for p in of],
                          "age_approx": [age[p] for p in of]})
    table["anatom_site_general_challenge"] = [None if rng.random() < 0.05 else str(rng.choice(SIIM_SITES))
                                              for _ in names]
    table["diagnosis"] = ["melanoma" if t else str(rng.choice(SIIM_BENIGN, p=[0.7, 0.2, 0.05, 0.05]))
                          for t in targets]
    table["benign_malignant"] = np.where(targets == 1, "malignant", "benign")
    table["target"] = targets
    return table[SIIM_TRAIN_COLUMNS]


def build_siim(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """jpeg/train/, jpeg/test/ ('ISIC_<7 digits>.jpg'), train/, test/ (the same as .dcm, with
    pydicom), train.csv (image_name without extension, patient_id 'IP_<7 digits>' with a few images
    each, sex, age_approx, anatom_site_general_challenge, diagnosis, benign_malignant, target),
    test.csv (the first five), sample_submission.csv (image_name,target=0); private test.csv
    (image_name,target). The tfrecords/ folder prepare.py copies is left out."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    n_train, n_test = N_TRAIN * scale, N_TEST * scale
    names = unique_ids(rng, n_train + n_test, lambda r: "ISIC_" + "".join(str(d) for d in r.integers(0, 10, 7)))
    patients = unique_ids(rng, (n_train + n_test) // 3 + 2, digit_id(7, "IP_"))
    cut = (n_train // 3) + 1
    train = _siim_table(rng, names[:n_train], (balanced(rng, n_train, 3) == 0).astype(int), patients[:cut])
    test = _siim_table(rng, names[n_train:], (balanced(rng, n_test, 3) == 0).astype(int), patients[cut:])
    for split, table in (("train", train), ("test", test)):
        for name, patient, target in zip(table["image_name"], table["patient_id"], table["target"]):
            img = class_image(rng, int(target))
            save(img, public / "jpeg" / split / f"{name}.jpg")
            if HAS_DICOM:
                write_dicom(img, public / split / f"{name}.dcm", name, patient)
    train.to_csv(public / "train.csv", index=False)
    test[SIIM_TRAIN_COLUMNS[:5]].to_csv(public / "test.csv", index=False)
    test[["image_name", "target"]].assign(target=0).to_csv(public / "sample_submission.csv", index=False)
    test[["image_name", "target"]].to_csv(private / "test.csv", index=False)


def _herbarium_header() -> dict:
    """The dataset-wide parts of metadata.json: categories, info, licenses, regions."""
    categories = [{"family": family, "genus": genus, "id": c, "name": name}
                  for c, (family, genus, name) in zip(HERBARIUM_CATEGORIES, HERBARIUM_SPECIES)]
    info = {"contributor": "New York Botanical Garden", "date_created": "2020-02-17 00:00:00",
            "description": "Herbarium 2020 (a tiny generated copy)",
            "url": "https://www.kaggle.com/c/herbarium-2020-fgvc7", "version": "1.0", "year": 2020}
    licenses = [{"id": 0, "name": "Public Domain Dedication",
                 "url": "http://creativecommons.org/publicdomain/zero/1.0/"}]
    regions = [{"id": i, "name": n} for i, n in enumerate(["New York", "Ontario", "Texas", "Sonora"])]
    return {"categories": categories, "info": info, "licenses": licenses, "regions": regions}


def build_herbarium(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """nybg2020/train/metadata.json (annotations, categories, images, info, licenses, regions) with
    images at nybg2020/train/images/{cat//100:03d}/{cat%100:02d}/{image id}.jpg, and
    nybg2020/test/metadata.json (images, info, licenses) with images at
    nybg2020/test/images/{idx//1000:03d}/{idx}.jpg (ids '0', '1', ...); sample_submission.csv
    (Id,Predicted=0); private answers.csv (Id,Predicted: the category id)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    header = _herbarium_header()
    per_train, per_test = 12 * scale, 4 * scale
    image_ids = [int(i) for i in unique_ids(rng, len(HERBARIUM_CATEGORIES) * (per_train + per_test), digit_id(6))]
    train = {**header, "annotations": [], "images": []}
    held = []  # (image dict, category, class index) of the test images, per category
    for k, cat in enumerate(HERBARIUM_CATEGORIES):
        for j in range(per_train + per_test):
            image_id = image_ids.pop()
            image = {"file_name": f"images/{cat // 100:03d}/{cat % 100:02d}/{image_id}.jpg", "height": 40,
                     "id": image_id, "license": 0, "width": 28}
            if j >= per_train:
                held.append((image, cat, k))
                continue
            train["images"].append(image)
            train["annotations"].append({"category_id": cat, "id": image_id, "image_id": image_id,
                                         "region_id": int(rng.integers(len(header["regions"])))})
            save(class_image(rng, k, (40, 28)), public / "nybg2020" / "train" / image["file_name"])
    test = {"images": [], "info": header["info"], "licenses": header["licenses"]}
    answers = []
    for idx, i in enumerate(rng.permutation(len(held))):
        image, cat, k = held[i]
        image = {**image, "id": str(idx), "file_name": f"images/{idx // 1000:03d}/{idx}.jpg"}
        test["images"].append(image)
        answers.append({"Id": image["id"], "Predicted": cat})
        save(class_image(rng, k, (40, 28)), public / "nybg2020" / "test" / image["file_name"])
    for split, meta in (("train", train), ("test", test)):
        (public / "nybg2020" / split / "metadata.json").write_text(json.dumps(meta, indent=4, sort_keys=True))
    pd.DataFrame(answers).to_csv(private / "answers.csv", index=False)
    pd.DataFrame(answers).assign(Predicted=0).to_csv(public / "sample_submission.csv", index=False)


def _camera_rows(rng: np.random.Generator, labels: np.ndarray, locations: list[int], taken: set) -> list[dict]:
    """train.csv rows for ``labels``: bursts of 1-3 frames sharing a seq_id, location and time."""
    rows, order = [], np.argsort(labels, kind="stable")
    start = 0
    while start < len(order):
        burst = order[start:start + int(rng.integers(1, 4))]
        start += len(burst)
        seq = hex_id(8)(rng) + "-5567-11e8-" + hex_id(4)(rng) + "-dca9047ef277"
        location = int(rng.choice(locations))
        when = datetime(2011, 1, 1) + timedelta(seconds=int(rng.integers(0, 4 * 365 * 86400)))
        holder = str(rng.choice(["Justin Brown", "Erin Boydston"]))
        for frame, i in enumerate(burst, start=1):
            image_id = unique_ids(rng, 1, lambda r: hex_id(8)(r) + "-23d2-11e8-a6a3-ec086b02610b", taken)[0]
            rows.append({"category_id": int(labels[i]), "date_captured": str(when + timedelta(seconds=frame - 1)),
                         "file_name": f"{image_id}.jpg", "frame_num": frame, "id": image_id, "location": location,
                         "rights_holder": holder, "seq_id": seq, "seq_num_frames": len(burst), "width": 44,
                         "height": 32})
    return rows


def build_iwildcam(public: Path, private: Path, seed: int = 0, scale: int = 1) -> None:
    """train_images.zip, test_images.zip ('<uuid>.jpg' entries, no folder), train.csv (category_id,
    date_captured, file_name, frame_num, id, location, rights_holder, seq_id, seq_num_frames, width,
    height), test.csv (the same less category_id; other camera locations than train's),
    sample_submission.csv written with its index (',Id,Category', Category=0); private answers.csv
    (Id,Category) and test.csv (test.csv's rows with category_id)."""
    public, private = make_dirs(public, private)
    rng = np.random.default_rng(seed)
    sites = [int(s) for s in rng.choice(np.arange(1, 139), 11, replace=False)]
    classes = np.array(IWILDCAM_CATEGORIES)
    taken: set = set()
    rows = _camera_rows(rng, classes[balanced(rng, N_TRAIN * scale, len(classes))], sites[:8], taken)
    rows += _camera_rows(rng, classes[balanced(rng, N_TEST * scale, len(classes))], sites[8:], taken)
    table = pd.DataFrame([rows[i] for i in rng.permutation(len(rows))], columns=IWILDCAM_TRAIN_COLUMNS)
    is_test = table["location"].isin(sites[8:])
    new_train, answers = table[~is_test], table[is_test]
    for split, part in (("train_images", new_train), ("test_images", answers)):
        for image_id, cat in zip(part["id"], part["category_id"]):
            save(class_image(rng, IWILDCAM_CATEGORIES.index(cat), (32, 44)), public / split / f"{image_id}.jpg")
        zip_folder(public / split, public / f"{split}.zip")
        shutil.rmtree(public / split)
    new_train.to_csv(public / "train.csv", index=False)
    answers.drop(columns=["category_id"]).to_csv(public / "test.csv", index=False)
    answers.to_csv(private / "test.csv", index=False)
    gold = answers[["id", "category_id"]].rename(columns={"id": "Id", "category_id": "Category"})
    gold.to_csv(private / "answers.csv", index=False)
    gold.assign(Category=0).to_csv(public / "sample_submission.csv", index=True)
