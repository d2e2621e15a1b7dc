"""The upscaled-cifar10 builder: from a tiny fake Dacon-layout source, at 64 px (seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from comp.data import upscaled
from comp.data.demo import ensure_data
from comp.data.layouts import read_dataset
from comp.data.upscaled import build_upscaled_cifar10, read_record
from comp.errors import CompError
from comp.config.spec import load_competition

CLASSES = ["airplane", "bird", "cat"]
PER_CLASS = 6
N_TEST = 8


def make_source(root: Path) -> Path:
    """A Dacon-layout CIFAR-10 in miniature: 32-px JPEGs, a sample submission not in file order."""
    rng = np.random.default_rng(0)
    for c in CLASSES:
        (root / "train" / c).mkdir(parents=True)
        for i in range(PER_CLASS):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "train" / c / f"{i:04d}.jpg")
    (root / "test").mkdir()
    ids = [f"TEST_{i:05d}" for i in range(N_TEST)]
    for i in ids:
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "test" / f"{i}.jpg")
    pd.DataFrame({"id": ids[::-1], "target": "airplane"}).to_csv(root / "sample_submission.csv", index=False)
    return root


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg"))


@pytest.fixture
def source(tmp_path) -> Path:
    return make_source(tmp_path / "dacon-cifar10")


def test_a_full_build_keeps_ids_classes_and_sample_at_the_new_size(tmp_path, source):
    root = tmp_path / "cifar10-64"
    record = build_upscaled_cifar10(root, (64, 64), source=source, workers=2)
    assert files(root) == files(source)
    assert (root / "sample_submission.csv").read_bytes() == (source / "sample_submission.csv").read_bytes()
    for path in root.rglob("*.jpg"):
        with Image.open(path) as img:
            assert (img.size, img.mode, img.format) == ((64, 64), "RGB", "JPEG")
    assert record == read_record(root)
    assert {k: record[k] for k in ("image_size", "n_train", "n_test", "source")} == \
        {"image_size": [64, 64], "n_train": len(CLASSES) * PER_CLASS, "n_test": N_TEST, "source": str(source)}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_the_spec_builds_it_on_first_use_and_reads_like_the_source(tmp_path, source, monkeypatch):
    monkeypatch.setattr(upscaled, "SOURCE", source)
    competition = load_competition("cifar10-128", data=tmp_path / "built")
    competition.data.image_size = [64, 64]
    ensure_data(competition)
    built = read_dataset(competition)
    original = read_dataset(load_competition("dacon-cifar10", data=source))
    assert list(built.train["id"]) == list(original.train["id"])
    assert list(built.train["label"]) == list(original.train["label"])
    assert list(built.test["id"]) == list(original.test["id"])  # the sample's order, not the files'
    assert built.class_names == CLASSES


def test_a_subset_is_stratified_and_reproducible(tmp_path, source):
    a = build_upscaled_cifar10(tmp_path / "a", (64, 64), source=source, n_train=9, n_test=3, seed=1)
    build_upscaled_cifar10(tmp_path / "b", (64, 64), source=source, n_train=9, n_test=3, seed=1)
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert (a["n_train"], a["n_test"]) == (9, 3)
    assert {c: len(list((tmp_path / "a" / "train" / c).glob("*.jpg"))) for c in CLASSES} == dict.fromkeys(CLASSES, 3)
    sample = pd.read_csv(tmp_path / "a" / "sample_submission.csv", dtype=str)
    full = pd.read_csv(source / "sample_submission.csv", dtype=str)
    assert sorted(sample["id"]) == sorted(p.stem for p in (tmp_path / "a" / "test").glob("*.jpg"))
    assert list(sample["id"]) == [i for i in full["id"] if i in set(sample["id"])]  # the source's order


def test_a_subset_smaller_than_the_classes_is_refused(tmp_path, source):
    with pytest.raises(CompError, match="n_train must be between 3 and 18"):
        build_upscaled_cifar10(tmp_path / "c", (64, 64), source=source, n_train=2)
    assert not (tmp_path / "c").exists()


def test_a_missing_source_is_one_line_naming_the_folder_and_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    competition = load_competition("cifar10-224")
    with pytest.raises(CompError) as e:
        ensure_data(competition)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("data/dacon-cifar10: CIFAR-10 source not found")
    assert message.endswith("mkdir -p data/dacon-cifar10 && tar -xzf ../shared/datasets/dacon-cifar10/open.tar.gz "
                            "-C data/dacon-cifar10")
    assert not Path("data/cifar10-224").exists()


def test_a_failed_image_leaves_no_folder(tmp_path, source):
    (source / "train" / "cat" / "0003.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(CompError, match="0003.jpg: cannot decode image"):
        build_upscaled_cifar10(tmp_path / "d", (64, 64), source=source, workers=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".d.build.lock", "dacon-cifar10"]


def test_an_existing_folder_is_kept(tmp_path, source):
    root = tmp_path / "e"
    build_upscaled_cifar10(root, (64, 64), source=source, n_train=3, n_test=1)
    again = build_upscaled_cifar10(root, (64, 64), source=source)
    assert (again["n_train"], again["n_test"]) == (3, 1)
    assert json.loads((root / "build.json").read_text())["n_train"] == 3
