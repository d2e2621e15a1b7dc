"""comp.data.layouts: the three layouts read into (id, path, label) tables; bad data gives clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from comp.data.images import load_images
from comp.data.layouts import read_dataset
from comp.errors import CompError
from comp.config.spec import competition_from_dict, load_competition


def save_png(path: Path, value: int = 100, size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path, format="PNG")


def save_jpg(path: Path, value: int = 100, size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path, format="JPEG")


def spec(root: Path, **data) -> object:
    return competition_from_dict({"name": "t", "data": {"root": str(root), "image_size": [8, 8], **data}}, "test spec")


def write_sample(path: Path, ids: list[str]) -> None:
    pd.DataFrame({"id": ids, "target": "x"}).to_csv(path, index=False)


# --------------------------------------------------------------------------- class-folders


def test_class_folders_reads_train_test_and_classes(tiny_competition):
    ds = read_dataset(load_competition("tiny"))
    assert ds.class_names == ["circle", "square", "stripe"]
    assert len(ds.train) == 36 and list(ds.train.columns) == ["id", "path", "label"]
    assert ds.train["id"].iloc[0] == "circle/0000"
    assert ds.train["id"].is_unique  # 0000.png repeats across class folders
    assert sorted(set(ds.train["label"])) == ds.class_names
    assert np.bincount(ds.labels).tolist() == [12, 12, 12]
    assert list(ds.test["id"]) == [f"TEST_{i:03d}" for i in range(9)]
    assert all(Path(p).is_file() for p in ds.test["path"])


def test_test_rows_follow_the_sample_submission_order(tiny_competition):
    sample = tiny_competition / "data" / "tiny" / "sample_submission.csv"
    ids = [f"TEST_{i:03d}" for i in reversed(range(9))]
    write_sample(sample, ids)
    ds = read_dataset(load_competition("tiny"))
    assert list(ds.test["id"]) == ids
    assert all(Path(p).stem == i for i, p in zip(ds.test["id"], ds.test["path"]))


def test_sample_submission_with_other_ids_is_an_error(tiny_competition):
    sample = tiny_competition / "data" / "tiny" / "sample_submission.csv"
    write_sample(sample, [f"TEST_{i:03d}" for i in range(8)] + ["TEST_999"])
    with pytest.raises(CompError) as e:
        read_dataset(load_competition("tiny"))
    msg = str(e.value)
    assert "sample_submission.csv" in msg and "ids do not match the test images" in msg
    assert "'TEST_999'" in msg and "'TEST_008'" in msg


def test_sample_submission_without_the_id_column_is_an_error(tiny_competition):
    sample = tiny_competition / "data" / "tiny" / "sample_submission.csv"
    pd.DataFrame({"ID": [f"TEST_{i:03d}" for i in range(9)], "target": "x"}).to_csv(sample, index=False)
    with pytest.raises(CompError, match=r"sample_submission\.csv: no column 'id'"):
        read_dataset(load_competition("tiny"))


def test_empty_class_folder_is_an_error(tiny_competition):
    empty = tiny_competition / "data" / "tiny" / "train" / "triangle"
    empty.mkdir()
    with pytest.raises(CompError, match=r"train/triangle: class folder has no images"):
        read_dataset(load_competition("tiny"))


def test_missing_data_folder_is_an_error(tmp_path):
    with pytest.raises(CompError) as e:
        read_dataset(spec(tmp_path / "nowhere"))
    assert "nowhere: data folder not found for competition 't'" in str(e.value)


def test_missing_test_folder_is_an_error(tmp_path):
    save_png(tmp_path / "train" / "a" / "1.png")
    save_png(tmp_path / "train" / "b" / "1.png")
    with pytest.raises(CompError, match=r"test: test folder not found"):
        read_dataset(spec(tmp_path))


def test_single_class_is_an_error(tmp_path):
    save_png(tmp_path / "train" / "a" / "1.png")
    save_png(tmp_path / "test" / "t1.png")
    with pytest.raises(CompError, match=r"found 1 class\(es\); need at least 2"):
        read_dataset(spec(tmp_path))


def test_non_image_file_is_skipped_with_a_warning(tiny_competition):
    (tiny_competition / "data" / "tiny" / "train" / "circle" / "notes.txt").write_text("hello")
    (tiny_competition / "data" / "tiny" / "train" / "circle" / ".DS_Store").write_bytes(b"\0")
    with pytest.warns(UserWarning, match=r"circle: skipped 1 file\(s\) without an image extension: notes\.txt"):
        ds = read_dataset(load_competition("tiny"))
    assert len(ds.train) == 36
    assert not ds.train["path"].str.endswith((".txt", ".DS_Store")).any()


def test_upper_case_extensions_spaces_and_non_ascii_class_names(tmp_path):
    save_png(tmp_path / "train" / "hot dog" / "IMG_0001.PNG", 10)
    save_jpg(tmp_path / "train" / "hot dog" / "IMG_0002.JPG", 20)
    save_png(tmp_path / "train" / "café" / "1.png", 30)
    save_png(tmp_path / "train" / "café" / "2.Png", 40)
    save_png(tmp_path / "test" / "T1.PNG", 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be skipped
        ds = read_dataset(spec(tmp_path))
    assert ds.class_names == sorted(["hot dog", "café"])
    assert sorted(ds.train["id"]) == sorted(["hot dog/IMG_0001", "hot dog/IMG_0002", "café/1", "café/2"])
    assert list(ds.test["id"]) == ["T1"]
    x = load_images(ds.train["path"].tolist(), (8, 8), tmp_path / "cache", "train")
    assert x.shape == (4, 8, 8, 3) and x.dtype == np.uint8


def test_explicit_class_names_set_the_order_and_reject_others(tmp_path):
    for cls in ("b", "a"):
        save_png(tmp_path / "train" / cls / "1.png")
    save_png(tmp_path / "test" / "t.png")
    assert read_dataset(spec(tmp_path, class_names=["b", "a"])).class_names == ["b", "a"]
    with pytest.raises(CompError, match=r"class 'a' is not in data\.class_names"):
        read_dataset(spec(tmp_path, class_names=["b", "c"]))


# --------------------------------------------------------------------------- csv-labels


@pytest.fixture
def kaggle(tmp_path) -> Path:
    """train/<id>.png with zero-padded ids, trainLabels.csv, test/<id>.png, sampleSubmission.csv."""
    train_ids = ["00042", "00007", "01000", "00100"]
    for i, tid in enumerate(train_ids):
        save_png(tmp_path / "train" / f"{tid}.png", i * 40)
    pd.DataFrame({"id": train_ids, "label": ["cat", "dog", "cat", "dog"]}).to_csv(
        tmp_path / "trainLabels.csv", index=False)
    test_ids = ["0003", "0001", "0002"]
    for tid in test_ids:
        save_png(tmp_path / "test" / f"{tid}.png")
    write_sample(tmp_path / "sampleSubmission.csv", test_ids)
    return tmp_path


def kaggle_spec(root: Path, **data):
    return spec(root, layout="csv-labels", labels="trainLabels.csv", sample_submission="sampleSubmission.csv", **data)


def test_csv_labels_keeps_leading_zeros_in_ids(kaggle):
    ds = read_dataset(kaggle_spec(kaggle))
    assert list(ds.train["id"]) == ["00042", "00007", "01000", "00100"]
    assert list(ds.train["label"]) == ["cat", "dog", "cat", "dog"]
    assert [Path(p).name for p in ds.train["path"]] == ["00042.png", "00007.png", "01000.png", "00100.png"]
    assert ds.class_names == ["cat", "dog"]
    assert ds.labels.tolist() == [0, 1, 0, 1]
    assert list(ds.test["id"]) == ["0003", "0001", "0002"]  # the sample's order, zeros kept


def test_csv_labels_with_an_unknown_file_id_is_an_error(kaggle):
    labels = pd.read_csv(kaggle / "trainLabels.csv", dtype=str)
    labels.loc[len(labels)] = ["99999", "cat"]
    labels.to_csv(kaggle / "trainLabels.csv", index=False)
    with pytest.raises(CompError) as e:
        read_dataset(kaggle_spec(kaggle))
    msg = str(e.value)
    assert "trainLabels.csv" in msg and "id '99999' names no image" in msg


def test_csv_labels_id_without_its_leading_zeros_names_no_image(kaggle):
    pd.DataFrame({"id": ["42", "00007"], "label": ["cat", "dog"]}).to_csv(kaggle / "trainLabels.csv", index=False)
    with pytest.raises(CompError, match=r"id '42' names no image"):
        read_dataset(kaggle_spec(kaggle))


def test_csv_labels_missing_a_column_is_an_error(kaggle):
    pd.DataFrame({"id": ["00042"], "class": ["cat"]}).to_csv(kaggle / "trainLabels.csv", index=False)
    with pytest.raises(CompError) as e:
        read_dataset(kaggle_spec(kaggle))
    msg = str(e.value)
    assert "trainLabels.csv: missing column 'label'" in msg and "Columns: id, class" in msg


def test_csv_labels_custom_columns(kaggle):
    pd.DataFrame({"file": ["00042", "00007"], "breed": ["cat", "dog"]}).to_csv(
        kaggle / "trainLabels.csv", index=False)
    ds = read_dataset(kaggle_spec(kaggle, label_columns=["file", "breed"]))
    assert list(ds.train["id"]) == ["00042", "00007"]


def test_csv_labels_duplicate_ids_are_an_error(kaggle):
    pd.DataFrame({"id": ["00042", "00007", "00042"], "label": ["cat", "dog", "dog"]}).to_csv(
        kaggle / "trainLabels.csv", index=False)
    with pytest.raises(CompError, match=r"trainLabels\.csv: duplicate id '00042'"):
        read_dataset(kaggle_spec(kaggle))


def test_csv_labels_empty_label_is_an_error(kaggle):
    pd.DataFrame({"id": ["00042", "00007"], "label": ["cat", ""]}).to_csv(kaggle / "trainLabels.csv", index=False)
    with pytest.raises(CompError, match=r"empty label for id '00007'"):
        read_dataset(kaggle_spec(kaggle))


def test_csv_labels_missing_labels_file_is_an_error(kaggle):
    (kaggle / "trainLabels.csv").unlink()
    with pytest.raises(CompError, match=r"trainLabels\.csv: file not found"):
        read_dataset(kaggle_spec(kaggle))


def test_csv_labels_two_images_with_one_id_is_an_error(kaggle):
    save_jpg(kaggle / "train" / "00042.jpg")
    with pytest.raises(CompError, match=r"two images share the id '00042'"):
        read_dataset(kaggle_spec(kaggle))


def test_csv_labels_sample_with_a_lost_leading_zero_is_an_error(kaggle):
    write_sample(kaggle / "sampleSubmission.csv", ["3", "0001", "0002"])
    with pytest.raises(CompError, match=r"ids do not match the test images.*'3'"):
        read_dataset(kaggle_spec(kaggle))


# --------------------------------------------------------------------------- meta-lists


@pytest.fixture
def food(tmp_path) -> Path:
    """A Food-101 style tree: images/<class>/<name>.jpg and meta/{classes,train,test}.txt."""
    classes = ["apple_pie", "baby_back_ribs", "ramen"]
    train, test = [], []
    for c, cls in enumerate(classes):
        for n in range(4):
            name = f"{c}{n:03d}"
            save_jpg(tmp_path / "images" / cls / f"{name}.jpg", 30 * c + n)
            (train if n < 3 else test).append(f"{cls}/{name}")
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "classes.txt").write_text("\n".join(classes) + "\n")
    (meta / "train.txt").write_text("\n".join(train) + "\n")
    (meta / "test.txt").write_text("\n".join(test) + "\n\n")
    return tmp_path


def test_meta_lists_reads_train_and_test_lists(food):
    ds = read_dataset(spec(food, layout="meta-lists"))
    assert ds.class_names == ["apple_pie", "baby_back_ribs", "ramen"]
    assert len(ds.train) == 9 and list(ds.train.columns) == ["id", "path", "label"]
    assert ds.train["id"].iloc[0] == "apple_pie/0000"
    assert (ds.train["label"] == ds.train["id"].str.split("/").str[0]).all()
    assert list(ds.test.columns) == ["id", "path"]
    assert list(ds.test["id"]) == ["apple_pie/0003", "baby_back_ribs/1003", "ramen/2003"]
    assert all(Path(p).is_file() and p.endswith(".jpg") for p in ds.test["path"])


def test_meta_lists_entry_without_an_image_is_an_error(food):
    with open(food / "meta" / "train.txt", "a") as f:
        f.write("ramen/9999\n")
    with pytest.raises(CompError, match=r"train\.txt: 'ramen/9999' names no image under"):
        read_dataset(spec(food, layout="meta-lists"))


def test_meta_lists_class_without_training_images_is_an_error(food):
    (food / "images" / "sushi").mkdir()
    (food / "meta" / "classes.txt").write_text("apple_pie\nbaby_back_ribs\nramen\nsushi\n")
    with pytest.raises(CompError, match=r"class 'sushi' has no training images"):
        read_dataset(spec(food, layout="meta-lists"))


def test_meta_lists_missing_list_file_is_an_error(food):
    (food / "meta" / "test.txt").unlink()
    with pytest.raises(CompError, match=r"test\.txt: list file not found"):
        read_dataset(spec(food, layout="meta-lists"))


# --------------------------------------------------------------------------- CSV reading, hidden folders


def test_sample_submission_with_a_byte_order_mark_reads(tiny_competition):
    sample = tiny_competition / "data" / "tiny" / "sample_submission.csv"
    ids = [f"TEST_{i:03d}" for i in range(9)]
    sample.write_bytes(("\ufeffid,target\r\n" + "".join(f"{i},circle\r\n" for i in ids)).encode("utf-8"))
    assert list(read_dataset(load_competition("tiny")).test["id"]) == ids


def test_empty_labels_csv_is_an_error(kaggle):
    (kaggle / "trainLabels.csv").write_bytes(b"")
    with pytest.raises(CompError, match=r"trainLabels\.csv: not a readable CSV"):
        read_dataset(kaggle_spec(kaggle))


def test_hidden_folders_are_not_classes(tiny_competition):
    hidden = tiny_competition / "data" / "tiny" / "train" / ".ipynb_checkpoints"
    save_png(hidden / "0000-checkpoint.png")
    ds = read_dataset(load_competition("tiny"))
    assert ds.class_names == ["circle", "square", "stripe"] and len(ds.train) == 36
