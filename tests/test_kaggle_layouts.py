"""tests.kaggle: 16 generated competitions in the exact layouts mlebench's prepare.py leaves (files,
folders, zips, CSV headers, id forms), and their graders (a constant submission scores a finite
number, a perfect one scores better, a submission without its id column is refused)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.kaggle import COMPETITIONS, HAS_DICOM, METRICS, InvalidSubmission, read_csv


@dataclass(frozen=True)
class Files:
    """The ids of ``csv[column]`` + ``suffix`` are the files of ``where`` (a folder or a zip)."""

    csv: str
    column: str
    where: str
    suffix: str = ""


@dataclass(frozen=True)
class Layout:
    top: set[str]                                   # the public folder's entries, folders with "/"
    headers: dict[str, list[str]]                   # each CSV's exact header line
    files: list[Files] = field(default_factory=list)
    labels: tuple = ()                              # (train csv, target column(s), separator or None)
    image_format: str = "JPEG"


SIIM_TRAIN = ["image_name", "patient_id", "sex", "age_approx", "anatom_site_general_challenge", "diagnosis",
              "benign_malignant", "target"]
RANZCR = ["ETT - Abnormal", "ETT - Borderline", "ETT - Normal", "NGT - Abnormal", "NGT - Borderline",
          "NGT - Incompletely Imaged", "NGT - Normal", "CVC - Abnormal", "CVC - Borderline", "CVC - Normal",
          "Swan Ganz Catheter Present"]
PETS = ["Id", "Subject Focus", "Eyes", "Face", "Near", "Action", "Accessory", "Group", "Collage", "Human",
        "Occlusion", "Info", "Blur"]
CAMERA = ["date_captured", "file_name", "frame_num", "id", "location", "rights_holder", "seq_id", "seq_num_frames",
          "width", "height"]
PLANTS = ["healthy", "multiple_diseases", "rust", "scab"]
SUB = "sample_submission.csv"

EXPECTED = {
    "histopathologic-cancer-detection": Layout(
        {"train/", "test/", "train_labels.csv", SUB}, {"train_labels.csv": ["id", "label"], SUB: ["id", "label"]},
        [Files("train_labels.csv", "id", "train", ".tif"), Files(SUB, "id", "test", ".tif")],
        ("train_labels.csv", "label", None), "TIFF"),
    "aerial-cactus-identification": Layout(
        {"train.zip", "test.zip", "train.csv", SUB}, {"train.csv": ["id", "has_cactus"], SUB: ["id", "has_cactus"]},
        [Files("train.csv", "id", "train.zip"), Files(SUB, "id", "test.zip")], ("train.csv", "has_cactus", None)),
    "dogs-vs-cats-redux-kernels-edition": Layout(
        {"train/", "test/", "train.zip", "test.zip", SUB}, {SUB: ["id", "label"]},
        [Files(SUB, "id", "test", ".jpg"), Files(SUB, "id", "test.zip", ".jpg")]),
    "dog-breed-identification": Layout(
        {"train/", "test/", "labels.csv", SUB},
        {"labels.csv": ["id", "breed"], SUB: ["id", "beagle", "chihuahua", "golden_retriever", "pug", "samoyed"]},
        [Files("labels.csv", "id", "train", ".jpg"), Files(SUB, "id", "test", ".jpg")], ("labels.csv", "breed", None)),
    "plant-pathology-2020-fgvc7": Layout(
        {"images/", "train.csv", "test.csv", SUB},
        {"train.csv": ["image_id"] + PLANTS, "test.csv": ["image_id"], SUB: ["image_id"] + PLANTS},
        [Files("train.csv", "image_id", "images", ".jpg"), Files("test.csv", "image_id", "images", ".jpg")],
        ("train.csv", PLANTS, None)),
    "plant-pathology-2021-fgvc8": Layout(
        {"train_images/", "test_images/", "train.csv", SUB},
        {"train.csv": ["image", "labels"], SUB: ["image", "labels"]},
        [Files("train.csv", "image", "train_images"), Files(SUB, "image", "test_images")],
        ("train.csv", "labels", " ")),
    "ranzcr-clip-catheter-line-classification": Layout(
        {"train/", "test/", "train.csv", "train_annotations.csv", SUB},
        {"train.csv": ["StudyInstanceUID"] + RANZCR + ["PatientID"],
         "train_annotations.csv": ["StudyInstanceUID", "label", "data"],
         SUB: ["StudyInstanceUID"] + RANZCR[:9]},  # mlebench grades 9 of the 11 columns
        [Files("train.csv", "StudyInstanceUID", "train", ".jpg"), Files(SUB, "StudyInstanceUID", "test", ".jpg")],
        ("train.csv", RANZCR, None)),
    "aptos2019-blindness-detection": Layout(
        {"train_images/", "test_images/", "train.csv", "test.csv", SUB},
        {"train.csv": ["id_code", "diagnosis"], "test.csv": ["id_code"], SUB: ["id_code", "diagnosis"]},
        [Files("train.csv", "id_code", "train_images", ".png"), Files("test.csv", "id_code", "test_images", ".png")],
        ("train.csv", "diagnosis", None), "PNG"),
    "whale-categorization-playground": Layout(
        {"train/", "test/", "train.csv", SUB}, {"train.csv": ["Image", "Id"], SUB: ["Image", "Id"]},
        [Files("train.csv", "Image", "train"), Files(SUB, "Image", "test")], ("train.csv", "Id", None)),
    "plant-seedlings-classification": Layout(
        {"train/", "test/", SUB}, {SUB: ["file", "species"]}, [Files(SUB, "file", "test")], (), "PNG"),
    "cassava-leaf-disease-classification": Layout(
        {"train_images/", "test_images/", "train.csv", "label_num_to_disease_map.json", SUB},
        {"train.csv": ["image_id", "label"], SUB: ["image_id", "label"]},
        [Files("train.csv", "image_id", "train_images"), Files(SUB, "image_id", "test_images")],
        ("train.csv", "label", None)),
    "siim-isic-melanoma-classification": Layout(
        {"jpeg/", "train.csv", "test.csv", SUB} | ({"train/", "test/"} if HAS_DICOM else set()),
        {"train.csv": SIIM_TRAIN, "test.csv": SIIM_TRAIN[:5], SUB: ["image_name", "target"]},
        [Files("train.csv", "image_name", "jpeg/train", ".jpg"), Files("test.csv", "image_name", "jpeg/test", ".jpg")]
        + ([Files("train.csv", "image_name", "train", ".dcm"), Files(SUB, "image_name", "test", ".dcm")]
           if HAS_DICOM else []), ("train.csv", "target", None)),
    "petfinder-pawpularity-score": Layout(
        {"train/", "test/", "train.csv", "test.csv", SUB},
        {"train.csv": PETS + ["Pawpularity"], "test.csv": PETS, SUB: ["Id", "Pawpularity"]},
        [Files("train.csv", "Id", "train", ".jpg"), Files("test.csv", "Id", "test", ".jpg")]),
    "imet-2020-fgvc7": Layout(
        {"train/", "test/", "train.csv", "labels.csv", SUB},
        {"train.csv": ["id", "attribute_ids"], "labels.csv": ["attribute_id", "attribute_name"],
         SUB: ["id", "attribute_ids"]},
        [Files("train.csv", "id", "train", ".png"), Files(SUB, "id", "test", ".png")],
        ("train.csv", "attribute_ids", " "), "PNG"),
    "herbarium-2020-fgvc7": Layout({"nybg2020/", SUB}, {SUB: ["Id", "Predicted"]}),
    "iwildcam-2019-fgvc6": Layout(
        {"train_images.zip", "test_images.zip", "train.csv", "test.csv", SUB},
        {"train.csv": ["category_id"] + CAMERA, "test.csv": CAMERA, SUB: ["", "Id", "Category"]},
        [Files("train.csv", "file_name", "train_images.zip"), Files("test.csv", "file_name", "test_images.zip"),
         Files(SUB, "Id", "test_images.zip", ".jpg")], ("train.csv", "category_id", None)),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Every competition built once at seed 0, scale 1: name -> (public, private)."""
    root = tmp_path_factory.mktemp("kaggle")
    out = {}
    for name, case in COMPETITIONS.items():
        public, private = root / name / "public", root / name / "private"
        case.build(public, private, seed=0, scale=1)
        out[name] = (public, private)
    return out


def names_in(public: Path, where: str) -> set[str]:
    """The file names directly in a folder, or the entries of a zip."""
    if where.endswith(".zip"):
        with zipfile.ZipFile(public / where) as zf:
            return set(zf.namelist())
    return {p.name for p in (public / where).iterdir() if p.is_file()}


def test_the_registry_covers_the_16_competitions_with_known_metrics():
    assert set(COMPETITIONS) == set(EXPECTED)
    for name, case in COMPETITIONS.items():
        assert case.name == name and case.metric in METRICS
        assert case.higher_is_better == (case.metric not in ("log_loss", "rmse"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_public_folder_holds_exactly_the_competitions_files(built, name):
    public, private = built[name]
    layout = EXPECTED[name]
    assert {p.name + ("/" if p.is_dir() else "") for p in public.iterdir()} == layout.top
    for csv, header in layout.headers.items():
        with open(public / csv, encoding="utf-8") as f:
            assert f.readline().rstrip("\n").split(",") == header, csv
    expected: dict[str, set[str]] = {}
    for spec in layout.files:
        ids = read_csv(public / spec.csv)[spec.column].astype(str)
        expected.setdefault(spec.where, set()).update(ids + spec.suffix)
    for where, names in expected.items():
        assert names_in(public, where) == names, where
    assert (private / COMPETITIONS[name].answers_file).is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_images_are_small_and_in_the_competitions_format(built, name):
    public, _ = built[name]
    paths = [p for p in sorted(public.rglob("*")) if p.suffix in (".jpg", ".png", ".tif")][:5]
    pictures = [io.BytesIO(p.read_bytes()) for p in paths]
    for archive in sorted(public.glob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            pictures.append(io.BytesIO(zf.read(zf.namelist()[0])))
    assert pictures
    for picture in pictures:
        with Image.open(picture) as im:
            assert im.format == EXPECTED[name].image_format and max(im.size) <= 48


@pytest.mark.parametrize("name", sorted(n for n, lay in EXPECTED.items() if lay.labels))
def test_every_class_has_enough_training_images_for_three_folds(built, name):
    public, _ = built[name]
    csv, target, sep = EXPECTED[name].labels
    train = read_csv(public / csv)
    if isinstance(target, list):
        counts = train[target].sum()
    elif sep:
        counts = train[target].astype(str).str.split(sep).explode().value_counts()
    else:
        counts = train[target].value_counts()
    assert len(counts) >= 2 and counts.min() >= 6, counts.to_dict()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_grader_ranks_a_perfect_submission_above_the_constant_one(built, name):
    case = COMPETITIONS[name]
    public, private = built[name]
    answers = case.answers(private)
    constant = case.grade(case.constant_submission(public), answers.copy())
    perfect = case.grade(case.perfect_submission(public, private), answers.copy())
    assert math.isfinite(constant) and math.isfinite(perfect)
    assert case.better(perfect, constant), (perfect, constant)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_grader_refuses_a_submission_without_its_id_column(built, name):
    case = COMPETITIONS[name]
    public, private = built[name]
    submission = case.perfect_submission(public, private)
    id_column = EXPECTED[name].headers[SUB][1 if name.startswith("iwildcam") else 0]
    with pytest.raises(InvalidSubmission):
        case.grade(submission.drop(columns=[id_column]), case.answers(private))


def test_the_seedlings_train_folder_holds_one_folder_of_pngs_per_species(built):
    public, private = built["plant-seedlings-classification"]
    species = set(read_csv(private / "answers.csv")["species"])
    folders = {p.name for p in (public / "train").iterdir()}
    assert folders == species and "Sugar beet" in folders
    assert all(p.suffix == ".png" for p in (public / "train").rglob("*") if p.is_file())


def test_the_herbarium_metadata_names_every_image_in_its_nested_folders(built):
    public, private = built["herbarium-2020-fgvc7"]
    root = public / "nybg2020"
    assert {p.name for p in root.iterdir()} == {"train", "test"}
    train = json.loads((root / "train" / "metadata.json").read_text())
    test = json.loads((root / "test" / "metadata.json").read_text())
    assert set(train) == {"annotations", "categories", "images", "info", "licenses", "regions"}
    assert set(test) == {"images", "info", "licenses"}
    on_disk = {p.relative_to(root / "train").as_posix() for p in (root / "train" / "images").rglob("*.jpg")}
    assert on_disk == {im["file_name"] for im in train["images"]}
    for image, note in zip(train["images"], train["annotations"]):
        cat = note["category_id"]
        assert image["id"] == note["image_id"]
        assert image["file_name"].startswith(f"images/{cat // 100:03d}/{cat % 100:02d}/")
    assert [im["file_name"] for im in test["images"]] == [f"images/000/{i}.jpg" for i in range(len(test["images"]))]
    assert all((root / "test" / im["file_name"]).is_file() for im in test["images"])
    assert read_csv(private / "answers.csv")["Id"].tolist() == list(range(len(test["images"])))


def test_the_iwildcam_test_cameras_are_not_the_training_ones(built):
    public, _ = built["iwildcam-2019-fgvc6"]
    train, test = read_csv(public / "train.csv"), read_csv(public / "test.csv")
    assert set(train["location"]).isdisjoint(test["location"])
    assert (train["file_name"] == train["id"] + ".jpg").all()


def _digest(folder: Path) -> str:
    """A hash of every file's relative path and bytes under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", ["aerial-cactus-identification", "imet-2020-fgvc7", "iwildcam-2019-fgvc6"])
def test_a_build_is_deterministic_for_a_seed_and_scale_multiplies_the_counts(tmp_path, built, name):
    case = COMPETITIONS[name]
    again, other, double = (tmp_path / d for d in ("again", "other", "double"))
    case.build(again / "public", again / "private", seed=0)
    case.build(other / "public", other / "private", seed=1)
    case.build(double / "public", double / "private", seed=0, scale=2)
    public, private = built[name]
    assert _digest(again / "public") == _digest(public) and _digest(again / "private") == _digest(private)
    assert _digest(other / "public") != _digest(public)
    assert len(case.answers(double / "private")) == 2 * len(case.answers(private))
    assert len(pd.read_csv(double / "public" / SUB)) == 2 * len(pd.read_csv(public / SUB))
