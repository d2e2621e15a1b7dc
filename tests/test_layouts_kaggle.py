"""comp.data.layouts on the layouts Kaggle hands out: ids with or without their extension, label
columns (one-hot, multi-label, grades, numbers), file-name labels (dogs-vs-cats), COCO metadata
(herbarium), and each refusal's one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from comp.config.spec import competition_from_dict
from comp.data.layouts import read_dataset
from comp.errors import CompError


def save(path: Path, value: int = 100) -> None:
    """A tiny image; PNG or JPEG as the name's extension says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def spec(root: Path, target: dict | None = None, submission: dict | None = None, **data):
    table = {"name": "t", "data": {"root": str(root), "image_size": [8, 8], **data}}
    if target:
        table["target"] = target
    if submission:
        table["submission"] = submission
    return competition_from_dict(table, "test spec")


def csv(path: Path, columns: dict) -> None:
    pd.DataFrame(columns).to_csv(path, index=False)


def refused(competition, *fragments: str) -> str:
    """The one-line message read_dataset refuses ``competition`` with; each fragment in it."""
    with pytest.raises(CompError) as e:
        read_dataset(competition)
    msg = str(e.value)
    assert "\n" not in msg and all(f in msg for f in fragments), msg
    return msg


def names(paths) -> list[str]:
    return [Path(p).name for p in paths]


# --------------------------------------------------------------------------- ids with or without the extension


@pytest.fixture
def named(tmp_path) -> Path:
    """train/<hex>.jpg + train.csv whose ids are file names; test/<hex>.jpg + a sample naming them."""
    for i, name in enumerate(["0a1b.jpg", "ff00.jpg", "12cd.jpg", "9e9e.jpg"]):
        save(tmp_path / "train" / name, 40 * i)
    csv(tmp_path / "train.csv", {"id": ["0a1b.jpg", "ff00.jpg", "12cd.jpg", "9e9e.jpg"], "label": list("abab")})
    for name in ["t2.jpg", "t1.jpg", "t3.jpg"]:
        save(tmp_path / "test" / name)
    csv(tmp_path / "sample.csv", {"id": ["t3.jpg", "t1.jpg", "t2.jpg"], "target": "a"})
    return tmp_path


def named_spec(root: Path, **data):
    return spec(root, **{"layout": "csv-labels", "labels": "train.csv", "sample_submission": "sample.csv", **data})


@pytest.mark.parametrize("form", ["auto", "name"])
def test_ids_that_are_file_names_are_read_by_name(named, form):
    ds = read_dataset(named_spec(named, id_form=form))
    assert list(ds.train["id"]) == ["0a1b.jpg", "ff00.jpg", "12cd.jpg", "9e9e.jpg"]
    assert names(ds.train["path"]) == list(ds.train["id"])
    assert list(ds.test["id"]) == ["t3.jpg", "t1.jpg", "t2.jpg"] and names(ds.test["path"]) == list(ds.test["id"])


def test_ids_that_are_file_names_read_by_stem_name_no_image(named):
    refused(named_spec(named, id_form="stem"), "train.csv", "id '0a1b.jpg' names no image")


def test_auto_names_the_one_missing_name(named):
    csv(named / "train.csv", {"id": ["0a1b.jpg", "gone.jpg"], "label": ["a", "b"]})
    refused(named_spec(named), "train.csv", "id 'gone.jpg' names no image", "(1 such id(s))")


def test_auto_reads_stems_that_end_like_an_extension(tmp_path):
    """Ids 'a.png', 'b.png' naming a.png.jpg, b.png.jpg by stem: not every id names a file, so stems."""
    for name in ("a.png.jpg", "b.png.jpg"):
        save(tmp_path / "train" / name)
    save(tmp_path / "test" / "t.jpg")
    csv(tmp_path / "train.csv", {"id": ["a.png", "b.png"], "label": ["x", "y"]})
    ds = read_dataset(spec(tmp_path, layout="csv-labels", labels="train.csv"))
    assert names(ds.train["path"]) == ["a.png.jpg", "b.png.jpg"]


def test_name_ids_allow_two_files_with_one_stem(named):
    save(named / "train" / "0a1b.png")
    ds = read_dataset(named_spec(named, id_form="name"))
    assert names(ds.train["path"])[0] == "0a1b.jpg"
    refused(named_spec(named, id_form="stem"), "two images share the id '0a1b'")


def test_a_sample_id_naming_no_test_image(named):
    csv(named / "sample.csv", {"id": ["t3.jpg", "t1.jpg", "t2.jpg", "t9.jpg"], "target": "a"})
    refused(named_spec(named), "sample.csv", "1 id(s) with no test image (e.g. 't9.jpg')")


def test_a_test_image_the_sample_does_not_name(named):
    save(named / "test" / "t4.jpg")
    refused(named_spec(named), "sample.csv", "1 test image(s) not in it (e.g. 't4.jpg')")


@pytest.mark.parametrize("form, ids", [("auto", ["t1", "t2", "t3"]), ("stem", ["t1", "t2", "t3"]),
                                       ("name", ["t1.jpg", "t2.jpg", "t3.jpg"])])
def test_without_a_sample_test_ids_are_stems_or_names(named, form, ids):
    if form == "stem":
        csv(named / "train.csv", {"id": ["0a1b", "ff00"], "label": ["a", "b"]})
    ds = read_dataset(named_spec(named, id_form=form, sample_submission=None))
    assert list(ds.test["id"]) == ids


def test_class_folders_with_a_sample_of_file_names(tmp_path):
    """plant-seedlings: train/<species>/<file>.png, test/<file>.png, a sample 'file,species' of names."""
    for species in ("Black-grass", "Charlock"):
        for i in range(2):
            save(tmp_path / "train" / species / f"{species[0]}{i}.png")
    for name in ("fd1.png", "0ab.png"):
        save(tmp_path / "test" / name)
    csv(tmp_path / "sample.csv", {"file": ["fd1.png", "0ab.png"], "species": "Charlock"})
    ds = read_dataset(spec(tmp_path, submission={"id_column": "file", "target_column": "species"},
                           sample_submission="sample.csv"))
    assert ds.class_names == ["Black-grass", "Charlock"]
    assert list(ds.test["id"]) == ["fd1.png", "0ab.png"] and names(ds.test["path"]) == ["fd1.png", "0ab.png"]
    assert list(ds.train["id"]) == ["Black-grass/B0", "Black-grass/B1", "Charlock/C0", "Charlock/C1"]
    ds = read_dataset(spec(tmp_path, submission={"id_column": "file", "target_column": "species"},
                           sample_submission="sample.csv", id_form="name"))
    assert ds.train["id"][0] == "Black-grass/B0.png" and list(ds.test["id"]) == ["fd1.png", "0ab.png"]


# --------------------------------------------------------------------------- the sample's columns


def test_a_sample_written_with_its_index_reads(named):
    pd.DataFrame({"id": ["t3.jpg", "t1.jpg", "t2.jpg"], "target": "a"}).to_csv(named / "sample.csv")
    assert list(read_dataset(named_spec(named)).test["id"]) == ["t3.jpg", "t1.jpg", "t2.jpg"]


def test_a_one_column_sample_without_the_target_column(named):
    csv(named / "sample.csv", {"id": ["t3.jpg", "t1.jpg", "t2.jpg"], "label": "a"})
    refused(named_spec(named), "sample.csv", "['id', 'label']", "differ from the spec's [id, target]")


def test_a_class_probability_sample_has_the_class_names_as_columns(named):
    csv(named / "sample.csv", {"id": ["t3.jpg", "t1.jpg", "t2.jpg"], "b": 0.5, "a": 0.5})
    ds = read_dataset(named_spec(named, target={"kind": "class-probabilities"}))
    assert list(ds.test["id"]) == ["t3.jpg", "t1.jpg", "t2.jpg"]
    csv(named / "sample.csv", {"id": ["t3.jpg", "t1.jpg", "t2.jpg"], "a": 0.5, "c": 0.5})
    refused(named_spec(named, target={"kind": "class-probabilities"}), "sample.csv", "unexpected column(s) 'c'",
            "the class names (a, b)")
    csv(named / "sample.csv", {"id": ["t3.jpg", "t1.jpg", "t2.jpg"]})
    refused(named_spec(named, target={"kind": "class-probabilities"}), "sample.csv", "no class column")


def test_a_column_sample_may_hold_some_of_the_classes(pathology):
    """ranzcr: train.csv holds 11 0/1 columns, the sample 9 of them."""
    pd.read_csv(pathology / "sample_submission.csv").drop(columns="scab").to_csv(
        pathology / "sample_submission.csv", index=False)
    assert list(read_dataset(pathology_spec(pathology)).test["id"]) == ["Test_2", "Test_0", "Test_1"]


# --------------------------------------------------------------------------- one-hot label columns


@pytest.fixture
def pathology(tmp_path) -> Path:
    """plant-pathology-2020: images/ holds Train_* and Test_*; train.csv one-hot; a sample of columns."""
    cols = ["healthy", "multiple_diseases", "rust", "scab"]
    rows = [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
    for i in range(5):
        save(tmp_path / "images" / f"Train_{i}.jpg", 20 * i)
    for i in range(3):
        save(tmp_path / "images" / f"Test_{i}.jpg")
    table = pd.DataFrame(rows, columns=cols)
    table.insert(0, "image_id", [f"Train_{i}" for i in range(5)])
    table.to_csv(tmp_path / "train.csv", index=False)
    sample = pd.DataFrame({"image_id": ["Test_2", "Test_0", "Test_1"], **{c: 0.25 for c in cols}})
    sample.to_csv(tmp_path / "sample_submission.csv", index=False)
    return tmp_path


def pathology_spec(root: Path, kind: str = "class-probabilities", **data):
    cols = ["healthy", "multiple_diseases", "rust", "scab"]
    return spec(root, target={"kind": kind, "columns": cols}, submission={"id_column": "image_id"},
                **{"layout": "csv-labels", "train": "images", "test": "images", "labels": "train.csv",
                   "label_columns": ["image_id", "label"], "sample_submission": "sample_submission.csv", **data})


def test_one_hot_columns_are_the_classes_and_the_test_is_the_samples_ids(pathology):
    ds = read_dataset(pathology_spec(pathology))
    assert ds.class_names == ["healthy", "multiple_diseases", "rust", "scab"]
    assert list(ds.train["label"]) == ["healthy", "rust", "multiple_diseases", "scab", "healthy"]
    assert list(ds.test["id"]) == ["Test_2", "Test_0", "Test_1"] and names(ds.test["path"])[0] == "Test_2.jpg"
    assert ds.labels.tolist() == [0, 2, 1, 3, 0]


def test_one_hot_row_with_two_ones_or_none(pathology):
    table = pd.read_csv(pathology / "train.csv")
    table.loc[2, "rust"] = 1
    table.to_csv(pathology / "train.csv", index=False)
    refused(pathology_spec(pathology), "train.csv", "line 4", "id 'Train_2'", "2 columns hold 1", "exactly one")
    table.loc[2, ["rust", "multiple_diseases"]] = 0
    table.to_csv(pathology / "train.csv", index=False)
    refused(pathology_spec(pathology), "train.csv", "line 4", "id 'Train_2'", "no column holds 1")


def test_one_hot_value_other_than_0_or_1(pathology):
    table = pd.read_csv(pathology / "train.csv", dtype=str)
    table.loc[1, "rust"] = "0.7"
    table.to_csv(pathology / "train.csv", index=False)
    refused(pathology_spec(pathology), "train.csv", "line 3", "id 'Train_1'", "column 'rust'", "'0.7'", "0 or 1")
    table.loc[1, "rust"] = "1.0"
    table.to_csv(pathology / "train.csv", index=False)
    assert read_dataset(pathology_spec(pathology)).train["label"][1] == "rust"


def test_one_hot_multi_label_joins_the_columns_holding_1(pathology):
    table = pd.read_csv(pathology / "train.csv")
    table.loc[1, "scab"] = 1
    table.loc[2, "multiple_diseases"] = 0
    table.to_csv(pathology / "train.csv", index=False)
    ds = read_dataset(pathology_spec(pathology, kind="multi-label"))
    assert list(ds.train["label"]) == ["healthy", "rust scab", "", "scab", "healthy"]


def test_a_one_hot_column_missing(pathology):
    pd.read_csv(pathology / "train.csv").drop(columns="scab").to_csv(pathology / "train.csv", index=False)
    refused(pathology_spec(pathology), "train.csv", "missing column 'scab' (target.columns)",
            "Columns: image_id, healthy")


def test_a_shared_train_and_test_folder_needs_a_sample(pathology):
    refused(pathology_spec(pathology, sample_submission=None), "images", "data.sample_submission")


# --------------------------------------------------------------------------- one label column


def kaggle(root: Path, ids: list[str], labels: list[str], target: dict | None = None, **data):
    """train/<id>.png, train.csv of ids and labels, test/t0.png; no sample."""
    for i in ids:
        save(root / "train" / f"{i}.png")
    save(root / "test" / "t0.png")
    csv(root / "train.csv", {"id": ids, "label": labels, **data.pop("extra", {})})
    return spec(root, target=target, layout="csv-labels", labels="train.csv", **data)


def test_grades_sort_as_numbers(tmp_path):
    ds = read_dataset(kaggle(tmp_path, ["a", "b", "c", "d"], ["10", "2", "0", "1"], {"kind": "grade"}))
    assert ds.class_names == ["0", "1", "2", "10"] and ds.labels.tolist() == [3, 2, 0, 1]


def test_labels_that_are_not_all_numbers_sort_as_text(tmp_path):
    assert read_dataset(kaggle(tmp_path, ["a", "b", "c"], ["10", "2", "x"])).class_names == ["10", "2", "x"]


def test_class_names_still_set_the_order(tmp_path):
    ds = read_dataset(kaggle(tmp_path, ["a", "b", "c"], ["2", "10", "1"], class_names=["10", "2", "1"]))
    assert ds.class_names == ["10", "2", "1"]


def test_binary_needs_two_classes_and_a_known_positive(tmp_path):
    ok = kaggle(tmp_path, ["a", "b"], ["cat", "dog"], {"kind": "binary", "positive": "dog"})
    assert read_dataset(ok).class_names == ["cat", "dog"]
    refused(spec(tmp_path, target={"kind": "binary", "positive": "bird"}, layout="csv-labels", labels="train.csv"),
            "train.csv", "target.positive 'bird'", "['cat', 'dog']")
    csv(tmp_path / "train.csv", {"id": ["a", "b", "c"], "label": ["cat", "dog", "cow"]})
    save(tmp_path / "train" / "c.png")
    refused(spec(tmp_path, target={"kind": "binary"}, layout="csv-labels", labels="train.csv"),
            "train.csv", "target.kind 'binary'", "exactly two classes", "3")


def test_multi_label_cells_are_normalised(tmp_path):
    ds = read_dataset(kaggle(tmp_path, ["a", "b", "c"], ["scab rust", "healthy", "rust  scab rust"],
                             {"kind": "multi-label"}))
    assert ds.class_names == ["healthy", "rust", "scab"]
    assert list(ds.train["label"]) == ["rust scab", "healthy", "rust scab"]


def test_multi_label_attribute_ids_sort_as_numbers(tmp_path):
    ds = read_dataset(kaggle(tmp_path, ["a", "b"], ["10 2 1", "2 100"], {"kind": "multi-label"}))
    assert ds.class_names == ["1", "2", "10", "100"]
    assert list(ds.train["label"]) == ["1 2 10", "2 100"]


def test_regression_keeps_numbers_and_has_one_class_name(tmp_path):
    ds = read_dataset(kaggle(tmp_path, ["a", "b", "c"], ["1.5", "-2", "30"], {"kind": "regression"}))
    assert ds.class_names == ["label"] and list(ds.train["label"]) == ["1.5", "-2", "30"]


def test_regression_value_that_is_not_a_number(tmp_path):
    refused(kaggle(tmp_path, ["a", "b", "c"], ["1.5", "tall", "30"], {"kind": "regression"}),
            "train.csv", "line 3", "id 'b'", "'tall'", "a number")


def test_group_column_is_copied(tmp_path):
    ds = read_dataset(kaggle(tmp_path, ["a", "b", "c"], ["x", "y", "x"], group_column="patient",
                             extra={"patient": ["p1", "p2", "p1"]}))
    assert list(ds.groups) == ["p1", "p2", "p1"] and list(ds.train.columns) == ["id", "path", "label", "group"]


def test_without_a_group_column_groups_is_none(tmp_path):
    assert read_dataset(kaggle(tmp_path, ["a", "b"], ["x", "y"])).groups is None


def test_group_column_missing_or_empty(tmp_path):
    refused(kaggle(tmp_path, ["a", "b"], ["x", "y"], group_column="patient"),
            "train.csv", "no column 'patient' (data.group_column)", "Columns: id, label")
    refused(kaggle(tmp_path, ["a", "b"], ["x", "y"], group_column="patient", extra={"patient": ["p1", ""]}),
            "train.csv", "empty", "line 3", "id 'b'")


# --------------------------------------------------------------------------- file-names


@pytest.fixture
def dogs(tmp_path) -> Path:
    """dogs-vs-cats: train/cat.0.jpg, train/dog.1.jpg...; test/1.jpg...; a sample id,label."""
    for name in ["cat.0.jpg", "dog.0.jpg", "cat.1.jpg", "dog.1.jpg"]:
        save(tmp_path / "train" / name)
    for i in (1, 2, 3):
        save(tmp_path / "test" / f"{i}.jpg")
    csv(tmp_path / "sample_submission.csv", {"id": ["2", "3", "1"], "label": 0.5})
    return tmp_path


def dogs_spec(root: Path, pattern: str | None = r"^(cat|dog)\.", **data):
    return spec(root, target={"kind": "binary", "positive": "dog"}, submission={"target_column": "label"},
                layout="file-names", label_pattern=pattern, sample_submission="sample_submission.csv", **data)


def test_file_names_label_from_the_pattern(dogs):
    ds = read_dataset(dogs_spec(dogs))
    assert list(ds.train["id"]) == ["cat.0", "cat.1", "dog.0", "dog.1"]
    assert list(ds.train["label"]) == ["cat", "cat", "dog", "dog"] and ds.class_names == ["cat", "dog"]
    assert list(ds.test["id"]) == ["2", "3", "1"] and names(ds.test["path"]) == ["2.jpg", "3.jpg", "1.jpg"]


@pytest.mark.parametrize("pattern, fragments", [
    (None, ["layout 'file-names' needs data.label_pattern"]),
    ("^(cat|dog", ["data.label_pattern", "'^(cat|dog'", "not a regular expression"]),
    (r"^cat|dog\.", ["data.label_pattern", "no group"]),
])
def test_a_label_pattern_that_cannot_give_a_label(dogs, pattern, fragments):
    refused(dogs_spec(dogs, pattern), *fragments)


def test_a_train_file_the_pattern_does_not_match(dogs):
    save(dogs / "train" / "bird.0.jpg")
    refused(dogs_spec(dogs), "train/bird.0.jpg", "does not match data.label_pattern", r"'^(cat|dog)\\.'")
    refused(dogs_spec(dogs, r"(cat|dog)?\."), "train/bird.0.jpg", "gives an empty label")


def test_a_group_column_outside_csv_labels_is_refused(dogs):
    refused(dogs_spec(dogs, group_column="patient"), "data.group_column", "layout 'csv-labels'", "'file-names'")


# --------------------------------------------------------------------------- coco-json


def write_json(path: Path, data: dict, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(data, ensure_ascii=False).encode(encoding))


@pytest.fixture
def herbarium(tmp_path) -> Path:
    """nybg2020/{train,test}/metadata.json with nested images; train metadata in latin-1."""
    train = tmp_path / "nybg2020" / "train"
    images, annotations = [], []
    for n, (image_id, category) in enumerate([(7, 15504), (3, 3), (9, 15504), (1, 200)]):
        name = f"images/{category // 100:03d}/{category % 100:02d}/{image_id}.jpg"
        save(train / name, 30 * n)
        images.append({"id": image_id, "file_name": name, "height": 8})
        annotations.append({"id": n, "image_id": image_id, "category_id": category})
    categories = [{"id": c, "name": f"Abies café {c}"} for c in (3, 200, 15504)]
    write_json(train / "metadata.json", {"images": images, "annotations": annotations, "categories": categories},
               "latin-1")
    test = tmp_path / "nybg2020" / "test"
    for i in range(3):
        save(test / "images" / "000" / f"{i}.jpg")
    write_json(test / "metadata.json", {"images": [{"id": str(i), "file_name": f"images/000/{i}.jpg"}
                                                   for i in range(3)]})
    csv(tmp_path / "sample_submission.csv", {"Id": ["2", "0", "1"], "Predicted": 0})
    return tmp_path


def herbarium_spec(root: Path, **data):
    return spec(root, submission={"id_column": "Id", "target_column": "Predicted"},
                **{"layout": "coco-json", "train_metadata": "nybg2020/train/metadata.json",
                   "test_metadata": "nybg2020/test/metadata.json", "sample_submission": "sample_submission.csv",
                   **data})


def edit_train_metadata(root: Path, change) -> None:
    path = root / "nybg2020" / "train" / "metadata.json"
    meta = json.loads(path.read_bytes().decode("latin-1"))
    change(meta)
    write_json(path, meta)


def test_coco_json_reads_images_with_their_categories(herbarium):
    ds = read_dataset(herbarium_spec(herbarium))
    assert list(ds.train["id"]) == ["7", "3", "9", "1"]
    assert list(ds.train["label"]) == ["15504", "3", "15504", "200"] and ds.class_names == ["15504", "200", "3"]  # text order (numbers: grades only)
    assert ds.train["path"][0].endswith("nybg2020/train/images/155/04/7.jpg") and Path(ds.train["path"][0]).is_file()
    assert list(ds.test["id"]) == ["2", "0", "1"] and ds.test["path"][0].endswith("nybg2020/test/images/000/2.jpg")


def test_coco_json_test_order_without_a_sample(herbarium):
    assert list(read_dataset(herbarium_spec(herbarium, sample_submission=None)).test["id"]) == ["0", "1", "2"]


@pytest.mark.parametrize("change, fragments", [
    (lambda m: m["images"][1].update(file_name="/etc/passwd"), ["images[1]", "'/etc/passwd'", "absolute"]),
    (lambda m: m["images"][1].update(file_name="../../x.jpg"), ["images[1]", "'../../x.jpg'", "leads out of"]),
    (lambda m: m["images"][1].update(file_name="images/none.jpg"), ["image id '3'", "images/none.jpg", "not found"]),
    (lambda m: m["annotations"].pop(1), ["image id '3'", "no annotation"]),
    (lambda m: m["images"][2].update(id=7), ["duplicate image id '7'"]),
    (lambda m: m.pop("annotations"), ["no key 'annotations'"]),
    (lambda m: m["images"][0].pop("file_name"), ["images[0]", "no key 'file_name'"]),
])
def test_coco_json_refusals(herbarium, change, fragments):
    edit_train_metadata(herbarium, change)
    refused(herbarium_spec(herbarium), "nybg2020/train/metadata.json", *fragments)


def test_coco_json_sample_naming_other_ids(herbarium):
    csv(herbarium / "sample_submission.csv", {"Id": ["2", "0", "5"], "Predicted": 0})
    refused(herbarium_spec(herbarium), "sample_submission.csv", "'5'", "'1'")


def test_coco_json_needs_its_metadata_keys(herbarium):
    refused(herbarium_spec(herbarium, train_metadata=None), "layout 'coco-json' needs data.train_metadata")
