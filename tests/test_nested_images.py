"""csv-labels with the train images in sub-folders (hotel-id-2021-fgvc8 as MLE-bench's prepare.py lays it
out: ``train_images/<chain>/<image>.jpg``, ``train.csv`` naming them by file name, labelled by
``hotel_id``): read_dataset finds them at any depth, comp init infers csv-labels rather than class-folders
with the chains as classes, and the refusals' one line."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from comp.config.spec import competition_from_dict
from comp.data.infer import infer_spec
from comp.data.layouts import read_dataset
from tests.test_layouts_kaggle import refused  # read_dataset's one-line refusal

# (chain, image, hotel_id): two chains hold two hotels each
TRAIN = [("0", "a01.jpg", "36363"), ("0", "a02.jpg", "36363"), ("0", "a03.jpg", "53586"),
         ("5", "b01.jpg", "53586"), ("5", "b02.jpg", "18807"), ("5", "b03.jpg", "18807"),
         ("12", "c01.jpg", "64314"), ("12", "c02.jpg", "60181")]
TEST = ["t01.jpg", "t02.jpg", "t03.jpg"]


def save(path: Path, value: int = 100, size: tuple[int, int] = (20, 28)) -> None:
    """A tiny JPEG (or PNG, as the name's extension says); ``size`` is (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def hotel(root: Path) -> Path:
    for i, (chain, image, _) in enumerate(TRAIN):
        save(root / "train_images" / chain / image, 20 * i)
    for image in TEST:
        save(root / "test_images" / image)
    pd.DataFrame({"image": [t[1] for t in TRAIN], "chain": [t[0] for t in TRAIN],
                  "hotel_id": [t[2] for t in TRAIN],
                  "timestamp": [f"2018-01-0{i + 1} 10:00:00" for i in range(len(TRAIN))]}).to_csv(
        root / "train.csv", index=False)
    pd.DataFrame({"image": TEST, "hotel_id": "36363 53586 18807 64314 60181"}).to_csv(
        root / "sample_submission.csv", index=False)
    return root


@pytest.fixture
def root(tmp_path) -> Path:
    return hotel(tmp_path / "hotel-id-2021-fgvc8")


def spec(root: Path, **data):
    table = {"name": "hotel-id-2021-fgvc8", "metric": "map_at_5",
             "data": {"root": str(root), "layout": "csv-labels", "train": "train_images", "test": "test_images",
                      "labels": "train.csv", "sample_submission": "sample_submission.csv",
                      "label_columns": ["image", "hotel_id"], "id_form": "name",
                      "image_size": [16, 16], **data},
             "target": {"kind": "top-k", "k": 5, "separator": " "},
             "submission": {"id_column": "image", "target_column": "hotel_id"}}
    return competition_from_dict(table, "test spec")


# --------------------------------------------------------------------------- read_dataset


@pytest.mark.parametrize("id_form", ["name", "auto"])
def test_reads_the_images_in_sub_folders(root, id_form):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the chain folders are read, not skipped with a warning
        ds = read_dataset(spec(root, id_form=id_form))
    assert list(ds.train["id"]) == [t[1] for t in TRAIN]
    assert list(ds.train["path"]) == [str(root / "train_images" / c / i) for c, i, _ in TRAIN]
    assert ds.class_names == ["18807", "36363", "53586", "60181", "64314"]
    assert list(ds.train["label"]) == [t[2] for t in TRAIN]
    assert list(ds.test["id"]) == TEST


def test_ids_by_stem_at_any_depth(root):
    deep = root / "train_images" / "12" / "deep" / "er"
    deep.mkdir(parents=True)
    (root / "train_images" / "12" / "c02.jpg").rename(deep / "c02.jpg")
    for name in ("train.csv", "sample_submission.csv"):
        table = pd.read_csv(root / name, dtype=str)
        table["image"] = table["image"].str.removesuffix(".jpg")
        table.to_csv(root / name, index=False)
    ds = read_dataset(spec(root, id_form="stem"))
    assert ds.train["id"].iloc[-1] == "c02"
    assert ds.train["path"].iloc[-1] == str(deep / "c02.jpg")


def test_images_directly_in_the_folder_and_in_sub_folders(root):
    (root / "train_images" / "0" / "a01.jpg").rename(root / "train_images" / "a01.jpg")
    ds = read_dataset(spec(root))
    assert ds.train["path"].iloc[0] == str(root / "train_images" / "a01.jpg")
    assert ds.train["path"].iloc[3] == str(root / "train_images" / "5" / "b01.jpg")


def test_one_id_in_two_sub_folders_is_one_line(root):
    save(root / "train_images" / "5" / "a02.jpg")
    msg = refused(spec(root), "train_images: two images share the id 'a02.jpg'", "0/a02.jpg", "5/a02.jpg",
                  "keep one of them")
    assert msg.count("a02.jpg") == 3


def test_one_stem_in_two_sub_folders_is_one_line(root):
    save(root / "train_images" / "12" / "b01.png")
    refused(spec(root, id_form="stem"), "two images share the id 'b01'", "12/b01.png", "5/b01.jpg")


def test_an_id_under_no_sub_folder(root):
    (root / "train_images" / "5" / "b02.jpg").unlink()
    refused(spec(root), "train.csv: id 'b02.jpg' names no image in", "train_images or its sub-folders",
            "(1 such id(s))")


def test_the_flat_case_is_as_before(tmp_path):
    """Images directly in the folder: a stray sub-folder is skipped with a warning, a missing id is the
    message it was."""
    root = tmp_path / "flat"
    for i, (_, image, _) in enumerate(TRAIN):
        save(root / "train_images" / image, 20 * i)
    save(root / "train_images" / "extra" / "a01.jpg")  # not read: every id names an image of the folder
    hotel_csvs = hotel(tmp_path / "other")
    for name in ("train.csv", "sample_submission.csv"):
        (root / name).write_bytes((hotel_csvs / name).read_bytes())
    (root / "test_images").mkdir()
    for image in TEST:
        save(root / "test_images" / image)
    with pytest.warns(UserWarning, match=r"train_images: skipped 1 folder\(s\) .*: extra"):
        ds = read_dataset(spec(root))
    assert list(ds.train["path"]) == [str(root / "train_images" / t[1]) for t in TRAIN]
    (root / "train_images" / "extra" / "a01.jpg").unlink()
    (root / "train_images" / "extra").rmdir()
    (root / "train_images" / "b02.jpg").unlink()
    msg = refused(spec(root), "train.csv: id 'b02.jpg' names no image in")
    assert msg.endswith(f"{root / 'train_images'} (1 such id(s))"), msg


def test_skipped_files_in_a_sub_folder_are_warned(root):
    (root / "train_images" / "5" / "notes.txt").write_text("x")
    with pytest.warns(UserWarning, match=r"train_images/5: skipped 1 file\(s\) without an image extension"):
        ds = read_dataset(spec(root))
    assert len(ds.train) == len(TRAIN)


def test_a_link_loop_is_read_once(root):
    os.symlink(root / "train_images", root / "train_images" / "12" / "loop")
    ds = read_dataset(spec(root))
    assert len(ds.train) == len(TRAIN)


# --------------------------------------------------------------------------- comp init


def test_init_infers_csv_labels_not_the_chains(root):
    tables, lines = infer_spec(root, "map_at_5", "hotel-id-2021-fgvc8")
    d = tables["data"]
    assert (d["layout"], d["train"], d["test"], d["labels"]) == ("csv-labels", "train_images", "test_images",
                                                                 "train.csv")
    assert d["label_columns"] == ["image", "hotel_id"] and d["id_form"] == "name"
    assert d["image_size"] == [32, 24]  # 28 x 20 (height x width), rounded
    assert tables["target"] == {"kind": "top-k", "k": 5, "separator": " "}
    layout = next(x for x in lines if x.startswith("layout:"))
    assert "csv-labels (train.csv names the images under train_images/ (in 3 sub-folders)" in layout
    assert "train_images/ (.jpg, 8 files in 3 sub-folders)" in next(x for x in lines if x.startswith("images:"))
    assert "classes: 5: 18807, 36363, 53586, 60181, 64314" in lines


def test_init_spec_reads(root):
    tables, _ = infer_spec(root, "map_at_5", "hotel-id-2021-fgvc8")
    table = {**tables, "data": {**tables["data"], "root": str(root)}}
    ds = read_dataset(competition_from_dict(table, "inferred"))
    assert len(ds.train) == len(TRAIN) and ds.train["path"].str.contains("/train_images/").all()


def test_init_without_a_csv_naming_them_is_still_class_folders(root):
    (root / "train.csv").unlink()
    tables, _ = infer_spec(root, "accuracy", "chains")
    assert tables["data"]["layout"] == "class-folders" and tables["data"]["train"] == "train_images"


def test_init_reads_the_sub_folders_of_an_inner_archive(root):
    shutil.make_archive(str(root / "train_images"), "zip", root, "train_images")
    shutil.rmtree(root / "train_images")
    tables, lines = infer_spec(root, "map_at_5", "hotel-id-2021-fgvc8")
    d = tables["data"]
    assert (d["layout"], d["train"], d["archives"], d["image_size"]) == ("csv-labels", "train_images",
                                                                         ["train_images.zip"], [32, 24])
    assert "train_images/ (.jpg, 8 files in 3 sub-folders, from train_images.zip)" in next(
        x for x in lines if x.startswith("images:"))
