"""``comp init``: a spec inferred from competition folders laid out as MLE-bench's prepare.py lays out
the real ones (a few tiny images each), the lines it prints, and its refusals (one line, exit 2,
nothing written)."""

from __future__ import annotations

import io
import json
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

FORMATS = {".jpg": "JPEG", ".png": "PNG", ".tif": "TIFF"}


def image_bytes(name: str, size: tuple[int, int]) -> bytes:
    """An image file's bytes; ``size`` is (width, height), the format follows the name's extension."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 40, 200)).save(buffer, format=FORMATS[Path(name).suffix])
    return buffer.getvalue()


def images(folder: Path, names: list[str], size: tuple[int, int] = (24, 24)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(image_bytes(name, size))


def zipped(path: Path, names: list[str], size: tuple[int, int] = (24, 24)) -> None:
    """A zip of images at its root, as MLE-bench's compress() writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, image_bytes(name, size))


def csv(path: Path, **columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_csv(path, index=False)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """The working folder (the current directory); competitions go under data/."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


@pytest.fixture
def init(cli):
    """``init(folder, metric, *args)``: comp init, which must succeed; (spec, stderr lines)."""
    def run(folder: Path, metric: str, *args: str) -> tuple[dict, list[str]]:
        result = cli("init", f"data/{folder.name}", "--metric", metric, *args)
        assert result.exit_code == 0, result.output
        out = Path(result.stdout.strip())
        assert out == Path("competition") / f"{folder.name}.toml" or "--out" in args
        return tomllib.loads(out.read_text()), result.stderr.splitlines()

    return run


def line(lines: list[str], head: str) -> str:
    found = [x for x in lines if x.startswith(head + ":")]
    assert len(found) == 1, lines
    return found[0]


# --------------------------------------------------------------------------- the layouts


def histopathologic(data: Path) -> tuple[Path, str]:
    root = data / "histopathologic-cancer-detection"
    train, test = [f"f38a{i}" for i in range(6)], ["00a1", "00b2", "00c3"]
    images(root / "train", [f"{i}.tif" for i in train], (96, 96))
    images(root / "test", [f"{i}.tif" for i in test], (96, 96))
    csv(root / "train_labels.csv", id=train, label=[0, 1] * 3)
    csv(root / "sample_submission.csv", id=test, label=0)
    return root, "roc_auc"


def test_histopathologic_binary_tif(data, init):
    spec, lines = init(*histopathologic(data))
    assert spec["name"] == "histopathologic-cancer-detection" and spec["metric"] == "roc_auc"
    assert spec["data"] == {"root": "data/histopathologic-cancer-detection", "layout": "csv-labels", "train": "train",
                            "test": "test", "sample_submission": "sample_submission.csv",
                            "labels": "train_labels.csv", "label_columns": ["id", "label"], "id_form": "stem",
                            "image_size": [96, 96]}
    assert spec["target"] == {"kind": "binary", "positive": "1"}
    assert spec["submission"] == {"id_column": "id", "target_column": "label", "target_format": "name"}
    assert spec["rules"] == {"pretrained_weights": False, "external_data": False, "test_data_training": False}
    assert "check them on its rules page" in Path("competition/histopathologic-cancer-detection.toml").read_text()
    assert "csv-labels (train_labels.csv names the images of train/" in line(lines, "layout")
    assert "column 'id' of sample_submission.csv, id form stem" in line(lines, "ids")
    assert "(e.g. '00a1')" in line(lines, "ids")
    assert "one column of 0/1 labels + roc_auc -> binary, positive class '1'" in line(lines, "target")
    assert line(lines, "classes") == "classes: 2: 0, 1"
    assert line(lines, "images") == "images: train/ (.tif, 6 files), test/ (.tif, 3 files)"
    assert "the median size of 6 sampled train images is 96x96" in line(lines, "image size")
    assert "wrote competition/histopathologic-cancer-detection.toml" in line(lines, "spec")


def aerial_cactus(data: Path) -> tuple[Path, str]:
    root = data / "aerial-cactus-identification"
    train, test = [f"{i:04x}c.jpg" for i in range(6)], ["aa01.jpg", "aa02.jpg"]
    zipped(root / "train.zip", train, (32, 32))
    zipped(root / "test.zip", test, (32, 32))
    csv(root / "train.csv", id=train, has_cactus=[1, 1, 0, 1, 0, 1])
    csv(root / "sample_submission.csv", id=test, has_cactus=0.5)
    return root, "roc_auc"


def test_aerial_cactus_zips_and_ids_with_the_extension(data, init):
    spec, lines = init(*aerial_cactus(data))
    d = spec["data"]
    assert (d["layout"], d["train"], d["test"], d["archives"]) == ("csv-labels", "train", "test",
                                                                   ["test.zip", "train.zip"])
    assert (d["labels"], d["label_columns"], d["id_form"], d["image_size"]) == (
        "train.csv", ["id", "has_cactus"], "name", [32, 32])
    assert spec["target"] == {"kind": "binary", "positive": "1"}
    assert "id form name" in line(lines, "ids") and "(e.g. 'aa01.jpg')" in line(lines, "ids")
    assert "train/ (.jpg, 6 files, from train.zip)" in line(lines, "images")
    assert "data.archives test.zip, train.zip: unpacked" in line(lines, "images")


def archives_with_top_folders(data: Path) -> tuple[Path, str]:
    """train.zip holding train/x.jpg (unpacked into train/, not train/train/); a tar.gz whose inner
    folder has another name (unpacked into test/pics/)."""
    root = data / "aerial-cactus-identification"
    train = [f"{i:04x}c.jpg" for i in range(4)]
    root.mkdir(parents=True)
    with zipfile.ZipFile(root / "train.zip", "w") as zf:
        zf.writestr("train/", b"")
        for name in train:
            zf.writestr(f"train/{name}", image_bytes(name, (32, 32)))
    with tarfile.open(root / "test.tar.gz", "w:gz") as tf:
        for name in ("aa01.jpg", "aa02.jpg"):
            info, raw = tarfile.TarInfo(f"pics/{name}"), image_bytes(name, (32, 32))
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    csv(root / "train.csv", id=train, has_cactus=[1, 0, 0, 1])
    csv(root / "sample_submission.csv", id=["aa01.jpg", "aa02.jpg"], has_cactus=0.5)
    return root, "roc_auc"


def test_archives_with_a_top_folder_of_their_name_and_a_tar(data, init):
    spec, lines = init(*archives_with_top_folders(data))
    d = spec["data"]
    assert (d["train"], d["test"], d["archives"]) == ("train", "test/pics", ["test.tar.gz", "train.zip"])
    assert "test/pics/ (.jpg, 2 files, from test.tar.gz)" in line(lines, "images")


def dogs_vs_cats(data: Path) -> tuple[Path, str]:
    root = data / "dogs-vs-cats-redux-kernels-edition"
    zipped(root / "train.zip", ["cat.0.jpg", "cat.1.jpg", "dog.0.jpg", "dog.1.jpg", "dog.2.jpg"], (300, 200))
    zipped(root / "test.zip", ["1.jpg", "2.jpg", "3.jpg"])
    csv(root / "sample_submission.csv", id=[1, 2, 3], label=0.5)
    return root, "log_loss"


def test_dogs_vs_cats_file_names(data, init):
    spec, lines = init(*dogs_vs_cats(data))
    d = spec["data"]
    assert (d["layout"], d["label_pattern"], d["id_form"], d["image_size"]) == (
        "file-names", r"^([^.]+)\.", "stem", [128, 128])
    assert "labels" not in d and d["archives"] == ["test.zip", "train.zip"]
    assert spec["target"] == {"kind": "binary", "positive": "dog"}
    assert "the file names of train/: one column of cat/dog labels + log_loss -> binary, positive class 'dog'" \
        in line(lines, "target")
    assert "is 200x300 (height x width), clipped to [16, 128]" in line(lines, "image size")


def dog_breed(data: Path) -> tuple[Path, str]:
    root = data / "dog-breed-identification"
    train = [f"b{i}" for i in range(6)]
    images(root / "train", [f"{i}.jpg" for i in train])
    images(root / "test", ["t1.jpg", "t2.jpg"])
    csv(root / "labels.csv", id=train, breed=["beagle", "collie", "affenpinscher"] * 2)
    breeds = ["affenpinscher", "beagle", "collie", "dingo"]
    csv(root / "sample_submission.csv", id=["t1", "t2"], **{b: 0.25 for b in breeds})
    return root, "log_loss"


def test_dog_breed_probabilities_from_a_label_column(data, init):
    spec, lines = init(*dog_breed(data))
    assert spec["data"]["label_columns"] == ["id", "breed"]
    # dingo: a column of the sample, not a label of the train images
    assert spec["data"]["class_names"] == ["affenpinscher", "beagle", "collie", "dingo"]
    assert spec["target"] == {"kind": "class-probabilities"}
    assert spec["submission"]["target_column"] == "affenpinscher"
    assert "column 'breed' of labels.csv: the target columns name its classes" in line(lines, "target")
    assert line(lines, "classes") == "classes: 4: affenpinscher, beagle, collie, dingo"


def plant_pathology_2020(data: Path) -> tuple[Path, str]:
    root = data / "plant-pathology-2020-fgvc7"
    train, test = [f"Train_{i}" for i in range(6)], [f"Test_{i}" for i in range(3)]
    images(root / "images", [f"{i}.jpg" for i in train + test])
    classes = ["healthy", "multiple_diseases", "rust", "scab"]
    onehot = {c: [int(i % 4 == k) for i in range(6)] for k, c in enumerate(classes)}
    csv(root / "train.csv", image_id=train, **onehot)
    csv(root / "test.csv", image_id=test)
    csv(root / "sample_submission.csv", image_id=test, **{c: 0.25 for c in classes})
    return root, "mean_roc_auc"


def test_plant_pathology_2020_one_hot_columns_and_a_shared_images_folder(data, init):
    spec, lines = init(*plant_pathology_2020(data))
    d = spec["data"]
    assert (d["train"], d["test"], d["labels"], d["label_columns"]) == ("images", "images", "train.csv",
                                                                        ["image_id", "healthy"])
    classes = ["healthy", "multiple_diseases", "rust", "scab"]
    assert spec["target"] == {"kind": "class-probabilities", "columns": classes}
    assert "exactly one 1 per row + mean_roc_auc -> class-probabilities" in line(lines, "target")
    assert "train and test images together" in line(lines, "images")


def plant_pathology_2021(data: Path) -> tuple[Path, str]:
    root = data / "plant-pathology-2021-fgvc8"
    train = [f"8{i}a.jpg" for i in range(6)]
    images(root / "train_images", train)
    images(root / "test_images", ["9a.jpg", "9b.jpg"])
    csv(root / "train.csv", image=train, labels=["healthy", "scab frog_eye_leaf_spot", "scab", "rust",
                                                 "healthy", "frog_eye_leaf_spot complex"])
    csv(root / "sample_submission.csv", image=["9a.jpg", "9b.jpg"], labels="healthy")
    return root, "micro_f1"


def test_plant_pathology_2021_multi_label_column(data, init):
    spec, lines = init(*plant_pathology_2021(data))
    d = spec["data"]
    assert (d["train"], d["test"], d["id_form"], d["label_columns"]) == ("train_images", "test_images", "name",
                                                                         ["image", "labels"])
    assert spec["target"] == {"kind": "multi-label", "separator": " "}
    assert "space-separated labels (e.g. 'scab frog_eye_leaf_spot') + micro_f1 -> multi-label" in line(lines, "target")
    assert line(lines, "classes") == "classes: 5: complex, frog_eye_leaf_spot, healthy, rust, scab"


def aptos(data: Path) -> tuple[Path, str]:
    root = data / "aptos2019-blindness-detection"
    train, test = [f"000c{i}" for i in range(6)], ["0a1", "0a2"]
    images(root / "train_images", [f"{i}.png" for i in train])
    images(root / "test_images", [f"{i}.png" for i in test])
    csv(root / "train.csv", id_code=train, diagnosis=[0, 1, 2, 3, 4, 2])
    csv(root / "test.csv", id_code=test)
    csv(root / "sample_submission.csv", id_code=test, diagnosis=0)
    return root, "qwk"


def test_aptos_grade(data, init):
    spec, lines = init(*aptos(data))
    assert spec["target"] == {"kind": "grade"} and spec["data"]["label_columns"] == ["id_code", "diagnosis"]
    assert "5 integer grades (0..4) + qwk -> grade" in line(lines, "target")


def whale(data: Path) -> tuple[Path, str]:
    root = data / "whale-categorization-playground"
    train = [f"{i:02x}f.jpg" for i in range(7)]
    images(root / "train", train, (10, 10))
    images(root / "test", ["a.jpg", "b.jpg"], (10, 10))
    csv(root / "train.csv", Image=train, Id=["new_whale", "w_1", "new_whale", "w_2", "w_1", "new_whale", "w_3"])
    csv(root / "sample_submission.csv", Image=["a.jpg", "b.jpg"], Id="new_whale w_1 w_2 w_3 w_4")
    return root, "map_at_5"


def test_whale_top_k_with_new_whale(data, init):
    spec, lines = init(*whale(data))
    assert spec["target"] == {"kind": "top-k", "k": 5, "separator": " ", "new_label": "new_whale"}
    assert spec["data"]["label_columns"] == ["Image", "Id"] and spec["data"]["image_size"] == [16, 16]
    assert "new_label 'new_whale' (starts with 'new' and the most frequent)" in line(lines, "target")


def plant_seedlings(data: Path) -> tuple[Path, str]:
    root = data / "plant-seedlings-classification"
    for species in ("Black-grass", "Charlock", "Sugar beet"):
        images(root / "train" / species, [f"{species[0]}{i}.png" for i in range(3)])
    images(root / "test", ["0a.png", "0b.png"])
    csv(root / "sample_submission.csv", file=["0a.png", "0b.png"], species="Sugar beet")
    return root, "micro_f1"


def test_plant_seedlings_class_folders_with_ids_with_the_extension(data, init):
    spec, lines = init(*plant_seedlings(data))
    d = spec["data"]
    assert (d["layout"], d["train"], d["test"], d["id_form"]) == ("class-folders", "train", "test", "name")
    assert "labels" not in d and spec["target"] == {"kind": "class"}
    assert spec["submission"] == {"id_column": "file", "target_column": "species", "target_format": "name"}
    assert line(lines, "classes") == "classes: 3: Black-grass, Charlock, Sugar beet"
    assert "train/ (.png, 9 files in 3 class folders)" in line(lines, "images")


def siim_isic(data: Path) -> tuple[Path, str]:
    root = data / "siim-isic-melanoma-classification"
    train, test = [f"ISIC_{i:07d}" for i in range(6)], ["ISIC_9000001", "ISIC_9000002"]
    for folder, ids in (("train", train), ("test", test)):
        (root / folder).mkdir(parents=True)
        for i in ids:
            (root / folder / f"{i}.dcm").write_bytes(b"DICM")
        images(root / "jpeg" / folder, [f"{i}.jpg" for i in ids])
    (root / "tfrecords").mkdir()
    (root / "tfrecords" / "train00-6.tfrec").write_bytes(b"")
    features = {"sex": "male", "age_approx": 45, "anatom_site_general_challenge": "torso"}
    csv(root / "train.csv", image_name=train, patient_id=["IP_1", "IP_1", "IP_2", "IP_3", "IP_3", "IP_4"],
        **features, diagnosis="unknown", benign_malignant=["benign", "malignant"] * 3, target=[0, 1] * 3)
    csv(root / "test.csv", image_name=test, patient_id=["IP_8", "IP_9"], **features)
    csv(root / "sample_submission.csv", image_name=test, target=0)
    return root, "roc_auc"


@pytest.mark.parametrize("dicom_is_an_image", [False, True])
def test_siim_isic_jpeg_folders_and_a_patient_group(data, init, monkeypatch, dicom_is_an_image):
    from comp.data import infer_files

    if dicom_is_an_image:  # the DICOM copies become candidates too: the JPEGs are preferred
        monkeypatch.setattr(infer_files, "IMAGE_EXTENSIONS", infer_files.IMAGE_EXTENSIONS | {".dcm"})
    spec, lines = init(*siim_isic(data))
    d = spec["data"]
    assert (d["train"], d["test"], d["group_column"]) == ("jpeg/train", "jpeg/test", "patient_id")
    assert d["label_columns"] == ["image_name", "target"] and spec["target"] == {"kind": "binary", "positive": "1"}
    assert line(lines, "group column").startswith("group column: patient_id (a patient column of train.csv")


def herbarium(data: Path) -> tuple[Path, str]:
    root = data / "herbarium-2020-fgvc7" / "nybg2020"
    train = [{"id": i, "file_name": f"images/000/{i % 3:02d}/{i}.jpg"} for i in range(6)]
    for entry in train:
        images(root / "train" / Path(entry["file_name"]).parent, [Path(entry["file_name"]).name])
    annotations = [{"id": i, "image_id": i, "category_id": i % 3} for i in range(6)]
    meta = {"annotations": annotations, "categories": [{"id": c} for c in range(3)], "images": train,
            "info": {"contributor": "Jardín"}}
    (root / "train" / "metadata.json").write_bytes(json.dumps(meta, ensure_ascii=False).encode("latin-1"))
    test = [{"id": str(i), "file_name": f"images/000/{i}.jpg"} for i in range(2)]
    images(root / "test" / "images" / "000", ["0.jpg", "1.jpg"])
    (root / "test" / "metadata.json").write_text(json.dumps({"images": test, "info": {}, "licenses": []}))
    csv(root.parent / "sample_submission.csv", Id=[0, 1], Predicted=0)
    return root.parent, "macro_f1"


def test_herbarium_coco_json(data, init):
    spec, lines = init(*herbarium(data))
    d = spec["data"]
    assert (d["layout"], d["train"], d["test"], d["id_form"]) == ("coco-json", "nybg2020/train", "nybg2020/test",
                                                                 "auto")
    assert (d["train_metadata"], d["test_metadata"]) == ("nybg2020/train/metadata.json",
                                                         "nybg2020/test/metadata.json")
    assert spec["target"] == {"kind": "class"}
    assert spec["submission"] == {"id_column": "Id", "target_column": "Predicted", "target_format": "name"}
    assert "'Predicted' <- the annotations' category_id" in line(lines, "target")
    assert line(lines, "classes") == "classes: 3: 0, 1, 2"


def iwildcam(data: Path) -> tuple[Path, str]:
    root = data / "iwildcam-2019-fgvc6"
    train, test = [f"59{i}e-23d2" for i in range(6)], ["6a1-bb", "6a2-bb"]
    zipped(root / "train_images.zip", [f"{i}.jpg" for i in train])
    zipped(root / "test_images.zip", [f"{i}.jpg" for i in test])
    info = {"date_captured": [f"2011-05-1{i} 13:0{i}:00" for i in range(6)], "frame_num": 1,
            "location": [10, 10, 20, 20, 30, 30], "rights_holder": "Justin", "seq_num_frames": 1}
    csv(root / "train.csv", category_id=[0, 1, 19, 0, 2, 19], **info, file_name=[f"{i}.jpg" for i in train],
        id=train, seq_id=[f"s{i}" for i in range(6)])
    csv(root / "test.csv", **{k: v[:2] if isinstance(v, list) else v for k, v in info.items()},
        file_name=[f"{i}.jpg" for i in test], id=test, seq_id=["s7", "s8"])
    pd.DataFrame({"Id": test, "Category": 0}).to_csv(root / "sample_submission.csv", index=True)
    return root, "macro_f1"


def test_iwildcam_index_column_in_the_sample(data, init):
    spec, lines = init(*iwildcam(data))
    d = spec["data"]
    assert (d["train"], d["test"], d["id_form"], d["label_columns"]) == ("train_images", "test_images", "stem",
                                                                         ["id", "category_id"])
    assert spec["submission"] == {"id_column": "Id", "target_column": "Category", "target_format": "name"}
    assert "its unnamed first column 'Unnamed: 0' (an index) is skipped" in line(lines, "ids")
    assert "'Category' <- column 'category_id' of train.csv" in line(lines, "target")
    assert line(lines, "classes") == "classes: 4: 0, 1, 2, 19"  # as numbers, as the readers sort them


def ranzcr(data: Path) -> tuple[Path, str]:
    root = data / "ranzcr-clip-catheter-line-classification"
    train, test = [f"1.2.826.{i}" for i in range(6)], ["1.2.9.1", "1.2.9.2"]
    images(root / "train", [f"{i}.jpg" for i in train])
    images(root / "test", [f"{i}.jpg" for i in test])
    classes = ["ETT - Abnormal", "ETT - Normal", "CVC - Normal"]
    csv(root / "train.csv", StudyInstanceUID=train, **{c: [1, 0, 1, 1, 0, 0] for c in classes},
        PatientID=["p1", "p1", "p2", "p3", "p4", "p4"])
    csv(root / "train_annotations.csv", StudyInstanceUID=train[:3] * 2, label="CVC - Normal", data="[[1, 2]]")
    csv(root / "sample_submission.csv", StudyInstanceUID=test, **{c: 0 for c in classes})
    return root, "mean_roc_auc"


def test_ranzcr_multi_label_columns_beside_an_annotations_csv(data, init):
    spec, lines = init(*ranzcr(data))
    # a row's labels are joined into one cell: class names holding a space take "|" as separator
    assert spec["target"] == {"kind": "multi-label", "columns": ["ETT - Abnormal", "ETT - Normal", "CVC - Normal"],
                              "separator": "|"}
    assert spec["data"]["labels"] == "train.csv" and spec["data"]["group_column"] == "PatientID"
    assert "several 1s in some rows + mean_roc_auc -> multi-label" in line(lines, "target")


def petfinder(data: Path) -> tuple[Path, str]:
    root = data / "petfinder-pawpularity-score"
    train, test = [f"0007de{i}" for i in range(6)], ["4128bae", "43a2262"]
    images(root / "train", [f"{i}.jpg" for i in train])
    images(root / "test", [f"{i}.jpg" for i in test])
    csv(root / "train.csv", Id=train, Eyes=[0, 1] * 3, Face=1, Pawpularity=[63, 42, 28, 15, 72, 90])
    csv(root / "test.csv", Id=test, Eyes=1, Face=1)
    csv(root / "sample_submission.csv", Id=test, Pawpularity=[50.5, 20.1])
    return root, "rmse"


def test_petfinder_regression(data, init):
    spec, lines = init(*petfinder(data))
    assert spec["target"] == {"kind": "regression"} and spec["data"]["label_columns"] == ["Id", "Pawpularity"]
    assert line(lines, "classes") == "classes: none (regression: numbers from 15 to 90)"


def imet(data: Path) -> tuple[Path, str]:
    root = data / "imet-2020-fgvc7"
    train = [f"10{i}3ad" for i in range(5)]
    images(root / "train", [f"{i}.png" for i in train])
    images(root / "test", ["ff01.png", "ff02.png"])
    csv(root / "train.csv", id=train, attribute_ids=["13 405", "448 13", "13", "405 1092 448", "1092"])
    csv(root / "labels.csv", attribute_id=[13, 405, 448, 1092], attribute_name=["culture::a", "tag::b", "c", "d"])
    csv(root / "sample_submission.csv", id=["ff01", "ff02"], attribute_ids="0 1 2")
    return root, "micro_f1"


def test_imet_multi_label_beside_a_class_map(data, init):
    spec, _ = init(*imet(data))
    assert spec["data"]["labels"] == "train.csv" and spec["target"] == {"kind": "multi-label", "separator": " "}


def cassava(data: Path) -> tuple[Path, str]:
    root = data / "cassava-leaf-disease-classification"
    train = [f"100{i}.jpg" for i in range(6)]
    images(root / "train_images", train)
    images(root / "test_images", ["2216.jpg", "2217.jpg"])
    (root / "train_tfrecords").mkdir()
    (root / "train_tfrecords" / "ld_train00-6.tfrec").write_bytes(b"")
    (root / "label_num_to_disease_map.json").write_text('{"0": "Cassava Bacterial Blight (CBB)"}')
    csv(root / "train.csv", image_id=train, label=[0, 1, 2, 3, 4, 3])
    csv(root / "sample_submission.csv", image_id=["2216.jpg", "2217.jpg"], label=4)
    return root, "accuracy"


def test_cassava_class_beside_tfrecords(data, init):
    spec, lines = init(*cassava(data))
    assert spec["target"] == {"kind": "class"} and spec["data"]["id_form"] == "name"
    assert "one column of 5 labels + accuracy -> class" in line(lines, "target")


def test_the_image_size_is_the_median_clipped_and_rounded():
    from comp.data.infer_sizes import round_side

    assert [round_side(v) for v in (3, 16, 20, 27.5, 28, 96, 100, 131, 4000)] == [16, 16, 24, 24, 32, 96, 104, 128, 128]


def test_force_replaces_an_existing_spec(data, init):
    Path("competition").mkdir()
    Path("competition/histopathologic-cancer-detection.toml").write_text("old")
    spec, _ = init(*histopathologic(data), "--force")
    assert spec["target"]["kind"] == "binary"


def test_out_and_name(data, init):
    spec, _ = init(histopathologic(data)[0], "log_loss", "--out", "specs/histo.toml", "--name", "histo")
    assert spec["name"] == "histo" and Path("specs/histo.toml").is_file()


LAYOUTS = [histopathologic, aerial_cactus, archives_with_top_folders, dogs_vs_cats, dog_breed, plant_pathology_2020,
           plant_pathology_2021, aptos, whale, plant_seedlings, siim_isic, herbarium, iwildcam, ranzcr, petfinder,
           imet, cassava]


@pytest.mark.parametrize("build", LAYOUTS, ids=[b.__name__ for b in LAYOUTS])
def test_the_spec_written_reads_the_data(data, init, build):
    """What comp train does first with the spec: unpack the archives, read the train and test rows."""
    from comp.config.spec import load_competition
    from comp.data.demo import ensure_data
    from comp.data.layouts import read_dataset

    root, metric = build(data)
    spec, _ = init(root, metric)
    competition = load_competition(spec["name"])
    ensure_data(competition, say=lambda message: None)
    dataset = read_dataset(competition)
    sample = pd.read_csv(root / spec["data"]["sample_submission"], dtype=str)
    assert list(dataset.test["id"]) == list(sample[spec["submission"]["id_column"]])
    assert len(dataset.train) >= 4 and len(dataset.class_names) >= 1


# --------------------------------------------------------------------------- refusals


def _refused(cli, error_line, args, *fragments) -> None:
    error_line(cli("init", *args), *fragments)
    assert not Path("competition").exists() or not list(Path("competition").iterdir())


def test_no_sample_submission(data, cli, error_line):
    histopathologic(data)
    (data / "histopathologic-cancer-detection" / "sample_submission.csv").unlink()
    _refused(cli, error_line, ["data/histopathologic-cancer-detection", "--metric", "roc_auc"],
             "no sample submission found", "data.sample_submission")


def test_two_labels_csvs(data, cli, error_line):
    root, _ = histopathologic(data)
    (root / "labels.csv").write_bytes((root / "train_labels.csv").read_bytes())
    _refused(cli, error_line, ["data/histopathologic-cancer-detection", "--metric", "roc_auc"],
             "two candidate labels CSVs", "labels.csv and train_labels.csv", "data.labels")


def test_several_candidate_id_columns(data, cli, error_line):
    root, _ = histopathologic(data)
    table = pd.read_csv(root / "train_labels.csv", dtype=str)
    table.insert(1, "image", table["id"])
    table.to_csv(root / "train_labels.csv", index=False)
    pd.read_csv(root / "sample_submission.csv", dtype=str).rename(columns={"id": "key"}).to_csv(
        root / "sample_submission.csv", index=False)
    _refused(cli, error_line, ["data/histopathologic-cancer-detection", "--metric", "roc_auc"],
             "several candidate id columns", "'id', 'image'", "data.label_columns")


@pytest.mark.parametrize("metric, fragments", [
    ("roc_auc", ("--metric roc_auc scores one target column", "4 target columns")),
    ("map_at_5", ("--metric map_at_5", "4 target columns")),
])
def test_a_metric_that_does_not_fit_the_sample(data, cli, error_line, metric, fragments):
    root = data / "dog-breed-identification"
    images(root / "train", ["b0.jpg", "b1.jpg"])
    images(root / "test", ["t1.jpg"])
    csv(root / "labels.csv", id=["b0", "b1"], breed=["beagle", "collie"])
    csv(root / "sample_submission.csv", id=["t1"], **{b: 0.25 for b in ("affenpinscher", "beagle", "collie", "dingo")})
    _refused(cli, error_line, [f"data/{root.name}", "--metric", metric], *fragments)


@pytest.mark.parametrize("metric, fragment", [
    ("rmse", "--metric rmse scores numbers, but column 'label' of train_labels.csv holds"),
    ("mean_roc_auc", "--metric mean_roc_auc does not fit"),
])
def test_a_metric_that_does_not_fit_the_labels(data, cli, error_line, metric, fragment):
    root, _ = histopathologic(data)
    csv(root / "train_labels.csv", id=[f"f38a{i}" for i in range(6)], label=["a", "b", "c"] * 2)
    _refused(cli, error_line, [f"data/{root.name}", "--metric", metric], fragment)


def test_an_existing_spec_without_force(data, cli, error_line):
    histopathologic(data)
    Path("competition").mkdir()
    spec = Path("competition/histopathologic-cancer-detection.toml")
    spec.write_text("mine")
    error_line(cli("init", "data/histopathologic-cancer-detection", "--metric", "roc_auc"),
               "competition/histopathologic-cancer-detection.toml: exists", "--force")
    assert spec.read_text() == "mine"


def test_a_missing_folder(data, cli, error_line):
    _refused(cli, error_line, ["data/nothing", "--metric", "accuracy"], "data/nothing: data folder not found")
