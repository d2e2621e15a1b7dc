"""Odd inputs: where ``comp predict --out`` may write, meta-lists entries that lead out of the
images folder, and a matrix of what messy data folders hold. Every cell ends in a right result
or in one ``error:`` line (exit 2) that names the file and the value."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from comp.submit import submission
from comp.data.layouts import read_dataset
from comp.errors import CompError
from comp.config.spec import load_competition

TEST_IDS = [f"TEST_{i:03d}" for i in range(9)]


@pytest.fixture
def predict(cli):
    """``predict(*args)``: ``comp predict -c tiny --no-tta *args``."""
    def run(*args):
        return cli("predict", "-c", "tiny", "--no-tta", *args)

    return run


# --------------------------------------------------------------------------- A. comp predict --out


def _answers_outside_the_root(root: Path) -> str:
    spec = root / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace('answers = "answers.csv"', 'answers = "../tiny-answers.csv"'))
    (root / "data" / "tiny-answers.csv").write_text("id,target\n")
    return "data/tiny-answers.csv"


def _link_to_the_answers(root: Path) -> str:
    (root / "sub.csv").symlink_to(root / "data" / "tiny" / "answers.csv")
    return "sub.csv"


@pytest.mark.parametrize("out", [
    "data/tiny/sample_submission.csv", "data/tiny/answers.csv", "data/tiny/train/circle/new.csv",
    "./data/../data/tiny/answers.csv", _answers_outside_the_root, _link_to_the_answers,
])
def test_predict_out_never_writes_into_the_competitions_data(tiny_competition, out, predict, error_line):
    out = out(tiny_competition) if callable(out) else out
    before = {p: p.read_bytes() for p in (tiny_competition / "data").rglob("*") if p.is_file()}
    error_line(predict("--out", out, "--force"), "--out", Path(out).name, "competition's data")
    after = {p: p.read_bytes() for p in (tiny_competition / "data").rglob("*") if p.is_file()}
    assert after == before


def test_predict_out_never_writes_over_the_labels_csv(csv_competition, predict, error_line):
    labels = csv_competition / "data" / "tiny" / "labels.csv"
    text = labels.read_text()
    error_line(predict("--out", "data/tiny/labels.csv", "--force"), "data/tiny/labels.csv", "data.labels")
    assert labels.read_text() == text


@pytest.mark.parametrize("out", ["sub.json", "sub", "sub.csv.json", "sub.txt"])
def test_predict_out_must_end_in_csv(tiny_competition, out, predict, error_line):
    error_line(predict("--out", out), f"--out {out}", "must end in .csv")


@pytest.mark.parametrize("existing", ["sub.csv", "sub.json", "SUB.json"])
def test_predict_out_replaces_a_file_only_with_force(tiny_competition, existing, predict, error_line):
    out = "SUB.CSV" if existing.startswith("SUB") else "sub.csv"  # upper case: .CSV is a CSV too
    (tiny_competition / existing).write_text("keep me\n")
    error_line(predict("--out", out), existing, "already exists", "--force")
    assert (tiny_competition / existing).read_text() == "keep me\n"
    # --force passes the check: the next error is the missing run, not the file
    line = error_line(predict("--out", out, "--force"), "no runs of 'tiny'")
    assert "--out" not in line


def test_predict_out_that_is_a_folder(tiny_competition, predict, error_line):
    (tiny_competition / "old.csv").mkdir()
    error_line(predict("--out", "old.csv", "--force"), "--out old.csv", "is a folder")


def test_default_names_in_one_second_never_collide(tiny_competition, monkeypatch):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr(submission, "datetime", Frozen)
    competition = load_competition("tiny")
    first = submission.default_path(competition, ["run-a"])
    assert first.name == "tiny-run-a-20260102-030405.csv"
    first.parent.mkdir()
    first.write_text("first\n")
    second = submission.default_path(competition, ["run-a"])
    assert second.name == "tiny-run-a-20260102-030405-2.csv"
    second.with_suffix(".json").write_text("{}\n")  # a manifest alone also takes the name
    assert submission.default_path(competition, ["run-a"]).name == "tiny-run-a-20260102-030405-3.csv"


def test_write_submission_refuses_a_name_its_manifest_would_overwrite(tmp_path):
    frame = pd.DataFrame({"id": ["1"], "target": ["a"]})
    with pytest.raises(CompError, match=r"sub\.json: a submission's name must end in \.csv"):
        submission.write_submission(frame, tmp_path / "sub.json", {})
    assert list(tmp_path.iterdir()) == []


def test_predict_with_a_trained_run_keeps_every_file_it_must_not_touch(tiny_competition, cli, predict, error_line):
    trained = cli("train", "-c", "tiny", "-r", "tiny", "--executor", "inline", "-q", "--folds", "2",
                  "--fold", "0", "--set", "train.epochs=1")
    assert trained.exit_code == 0, trained.output
    answers = tiny_competition / "data" / "tiny" / "answers.csv"
    truth = answers.read_bytes()
    error_line(predict("--out", str(answers)), "answers.csv", "competition's data")  # no --force
    error_line(predict("--out", "data/tiny/answers.csv", "--force"), "answers.csv", "competition's data")
    error_line(predict("--out", "sub.json"), "must end in .csv")
    assert answers.read_bytes() == truth and not (tiny_competition / "sub.json").exists()

    assert predict("--out", "sub.csv").exit_code == 0
    error_line(predict("--out", "sub.csv"), "sub.csv already exists", "--force")
    assert predict("--out", "sub.csv", "--force").exit_code == 0
    manifest = json.loads((tiny_competition / "sub.json").read_text())
    assert manifest["sha256"] == hashlib.sha256((tiny_competition / "sub.csv").read_bytes()).hexdigest()

    paths = [predict().stdout.strip() for _ in range(2)]  # most likely in one second
    assert paths[0] != paths[1] and all(Path(p).is_file() and Path(p).with_suffix(".json").is_file()
                                        for p in paths)


# --------------------------------------------------------------------------- B. meta-lists entries

META_SPEC = """\
name = "tiny"
metric = "accuracy"

[data]
root = "data/food"
layout = "meta-lists"
image_size = [12, 12]
"""


@pytest.fixture
def food(tiny_competition, shape_image) -> Path:
    """data/food/images/<class>/<name>.png, meta/{classes,train,test}.txt, and data/food/secret.png
    beside the images folder (what an entry must not reach)."""
    import numpy as np
    from PIL import Image

    root = tiny_competition / "data" / "food"
    rng = np.random.default_rng(0)
    lists = {"train": [], "test": []}
    for cls in ("circle", "square"):
        (root / "images" / cls).mkdir(parents=True)
        for n in range(4):
            Image.fromarray(shape_image(cls, rng)).save(root / "images" / cls / f"{n}.png")
            lists["train" if n < 3 else "test"].append(f"{cls}/{n}")
    Image.fromarray(shape_image("stripe", rng)).save(root / "secret.png")
    (root / "meta").mkdir()
    (root / "meta" / "classes.txt").write_text("circle\nsquare\n")
    for name, entries in lists.items():
        (root / "meta" / f"{name}.txt").write_text("\n".join(entries) + "\n")
    (tiny_competition / "competition" / "tiny.toml").write_text(META_SPEC)
    return root


def test_meta_lists_reads(food):
    ds = read_dataset(load_competition("tiny"))
    assert ds.class_names == ["circle", "square"] and len(ds.train) == 6
    assert list(ds.test["id"]) == ["circle/3", "square/3"]


@pytest.mark.parametrize("entry, fragment", [
    ("../secret", "leads out of"),
    ("circle/../../secret", "leads out of"),
    ("circle/../..", "leads out of"),
    ("/etc/passwd", "is an absolute path"),
    ("//server/share/x", "is an absolute path"),
    ("C:/Windows/win.ini", "is an absolute path"),
    ("circle\\..\\..\\secret", "holds a backslash or NUL"),
    ("circle/\x000", "holds a backslash or NUL"),
])
@pytest.mark.parametrize("list_name", ["train", "test"])
def test_meta_lists_entry_that_leaves_the_images_folder(food, entry, fragment, list_name, cli, error_line):
    listed = food / "meta" / f"{list_name}.txt"
    lines = listed.read_text().splitlines()
    listed.write_text("\n".join(lines[:1] + ["", entry] + lines[1:]) + "\n")  # line 3, after a blank line
    error_line(cli("validate", "probe.csv", "-c", "tiny"),
               f"meta/{list_name}.txt: line 3: entry {entry!r}", fragment)


@pytest.mark.parametrize("cls", ["..", ".", "/etc", "circle/..", "a\\b", "a\x00b"])
def test_meta_lists_class_that_is_not_a_folder_name(food, cls, cli, error_line):
    """A class of '..' would make '../secret' an image of the list (the old hole)."""
    (food / "meta" / "classes.txt").write_text(f"circle\nsquare\n{cls}\n")
    with open(food / "meta" / "train.txt", "a") as f:
        f.write(f"{cls}/secret\n")
    error_line(cli("validate", "probe.csv", "-c", "tiny"),
               f"meta/classes.txt: line 3: class {cls!r}", "is not a folder name")


def test_meta_lists_duplicate_entry_names_its_line(food, cli, error_line):
    with open(food / "meta" / "train.txt", "a") as f:
        f.write("\n\ncircle/0\n")
    error_line(cli("validate", "probe.csv", "-c", "tiny"), "train.txt", "duplicate id 'circle/0' (line 9")


# --------------------------------------------------------------------------- C. a messy data folder


@dataclass
class Cell:
    layout: str  # "folders" (class-folders, the tiny fixture) or "csv" (csv-labels: flat/ + labels.csv)
    change: Callable[[Path], None]  # edits the data folder
    error: tuple[str, ...] = ()  # fragments of the one error line; none: the data reads
    warned: tuple[str, ...] = ()  # fragments of the one warning line expected (none: no warning)
    check: Callable | None = None  # on the Dataset read, where it reads
    marks: tuple = ()  # pytest marks of the cell (a skip where it cannot be made)


def _write(path: Path, content: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _copy_as(src: str, dst: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        from PIL import Image

        (root / dst).parent.mkdir(parents=True, exist_ok=True)
        Image.open(root / src).convert("RGB").save(root / dst)
    return change


def _labels(change: Callable[[pd.DataFrame], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        table = pd.read_csv(root / "labels.csv", dtype=str, keep_default_na=False)
        change(table)
        table.to_csv(root / "labels.csv", index=False)
    return edit


def _relabel(*pairs: tuple[int, str]) -> Callable[[Path], None]:
    def change(table: pd.DataFrame) -> None:
        for row, label in pairs:
            table.loc[row, "label"] = label
    return _labels(change)


def _sample(rows: list[list[str]], header: str = "id,target") -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / "sample_submission.csv").write_text("\n".join([header] + [",".join(r) for r in rows]) + "\n")
    return change


def _rename_classes(root: Path) -> None:
    (root / "train" / "circle").rename(root / "train" / "café")
    (root / "train" / "square").rename(root / "train" / "四角")


def _check_renamed(ds) -> None:
    assert ds.class_names == sorted(["café", "四角", "stripe"])
    assert unicodedata.is_normalized("NFC", ds.class_names[0])  # kept exactly as on disk
    assert ds.train["id"].iloc[0] == "café/0000" and len(ds.train) == 36


def _unchanged(ds) -> None:
    assert ds.class_names == ["circle", "square", "stripe"] and len(ds.train) == 36
    assert list(ds.test["id"]) == TEST_IDS
    assert ds.train["path"].str.endswith(".png").all() and ds.test["path"].str.endswith(".png").all()


def _csv_unchanged(ds) -> None:
    assert ds.class_names == ["circle", "square", "stripe"] and len(ds.train) == 36
    assert ds.train["id"].iloc[0] == "00000"
    assert list(ds.test["id"]) == TEST_IDS


def _hot_dog(table: pd.DataFrame) -> None:
    table.loc[table["label"] == "circle", "label"] = "hot dog"
    table.loc[0, "label"] = "hot\xa0dog"


def _socket(relative: str) -> Callable[[Path], None]:
    """A Unix socket at ``relative`` (bound by a path relative to the working folder: an absolute
    one may pass the 108 bytes a socket's path may have)."""
    def change(root: Path) -> None:
        import socket

        with socket.socket(socket.AF_UNIX) as s:
            s.bind(os.path.relpath(root / relative))
    return change


def _copy_to_bytes(src: str, name: bytes) -> Callable[[Path], None]:
    """A copy of the image ``src`` under ``name``, bytes relative to the data folder (any byte but '/' and NUL)."""
    return lambda root: shutil.copy(root / src, os.path.join(os.fsencode(root), name))


def _no_sample(root: Path) -> None:
    """The spec without its sample submission: the test ids are the test images' names."""
    spec = root.parent.parent / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace('sample_submission = "sample_submission.csv"\n', ""))
    (root / "sample_submission.csv").unlink()


def _undecodable(relative: str, *fragments: str) -> Callable:
    """A check: the data reads as before, but the image at ``relative`` fails to decode in one line naming it."""
    def check(ds) -> None:
        from comp.data.decode import decode_image

        _unchanged(ds)
        path = next(p for p in [*ds.train["path"], *ds.test["path"]] if p.endswith(relative))
        with pytest.raises(CompError) as e:
            decode_image(path, (12, 12))
        assert "\n" not in str(e.value) and all(f in str(e.value) for f in (path, *fragments)), str(e.value)
    return check


AS_ROOT = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                             reason="root reads and lists an entry of mode 000: the permission cannot fail")
CAFE_NFD = unicodedata.normalize("NFD", "café")
ERROR_CELLS = {
    # files an image folder holds
    "link to a missing image": Cell("folders", lambda r: (r / "train" / "circle" / "0100.png").symlink_to(
        r / "nowhere.png"), error=("train/circle/0100.png", "a link to a missing file", "nowhere.png")),
    "a link loop in a class folder": Cell("folders", lambda r: (r / "train" / "circle" / "loop.png").symlink_to(
        "loop.png"), error=("train/circle/loop.png", "cannot read")),
    "two stems in test/ (class-folders)": Cell("folders", _copy_as("test/TEST_001.png", "test/TEST_001.jpg"),
                                               error=("data/tiny/test", "'TEST_001'", "TEST_001.jpg", "TEST_001.png")),
    "two stems in test/ (csv-labels)": Cell("csv", _copy_as("test/TEST_004.png", "test/TEST_004.JPG"),
                                            error=("data/tiny/test", "'TEST_004'", "TEST_004.JPG", "TEST_004.png")),
    "two stems in a class folder": Cell("folders", _copy_as("train/circle/0003.png", "train/circle/0003.jpg"),
                                        error=("train/circle", "'0003'", "0003.jpg", "0003.png")),
    "two stems in csv train/": Cell("csv", _copy_as("flat/00002.png", "flat/00002.jpeg"),
                                    error=("data/tiny/flat", "'00002'", "00002.jpeg", "00002.png")),
    "class folders differing in case": Cell("folders", _copy_as("train/circle/0000.png", "train/Circle/0000.png"),
                                            error=("data/tiny/train", "'Circle'", "'circle'", "differ only in case")),
    # labels CSV
    "label with trailing whitespace": Cell("csv", _relabel((4, "circle ")),
                                           error=("labels.csv", "'circle '", "id '00004', line 6", "whitespace")),
    "label with a trailing NBSP": Cell("csv", _relabel((7, "square\xa0")),
                                       error=("labels.csv", repr("square\xa0"), "whitespace")),
    "labels differing in case": Cell("csv", _relabel((5, "Circle")),
                                     error=("labels.csv", "'Circle'", "'circle'", "differ only in case")),
    "label with a zero-width space": Cell("csv", _relabel((3, "circle\u200b")),
                                          error=("labels.csv", repr("circle\u200b"), "U+200B")),
    "labels differing in NBSP and space": Cell("csv", _labels(_hot_dog),
                                               error=("labels.csv", repr("hot\xa0dog"), "'hot dog'", "spacing")),
    "labels differing in Unicode form": Cell("csv", _relabel((0, "café"), (1, CAFE_NFD)),
                                             error=("labels.csv", "Unicode form", ascii(CAFE_NFD), ascii("café"))),
    "empty labels CSV": Cell("csv", lambda r: (r / "labels.csv").write_bytes(b""),
                             error=("labels.csv", "not a readable CSV")),
    "labels CSV with a header only": Cell("csv", lambda r: (r / "labels.csv").write_text("id,label\n"),
                                          error=("labels.csv", "no rows")),
    "labels CSV that is a folder": Cell("csv", lambda r: (r / "labels.csv").unlink() or (r / "labels.csv").mkdir(),
                                        error=("labels.csv", "not a regular file")),
    "labels CSV that is a FIFO": Cell("csv", lambda r: (r / "labels.csv").unlink() or os.mkfifo(r / "labels.csv"),
                                      error=("labels.csv", "not a regular file")),
    "duplicate ids in the labels CSV": Cell("csv", _labels(lambda t: t.loc.__setitem__((9, "id"), t.loc[8, "id"])),
                                            error=("labels.csv", "duplicate id '00008'", "line 11")),
    # sample_submission.csv
    "sample with an extra duplicate row": Cell("folders", _sample([[i, "circle"] for i in TEST_IDS + ["TEST_002"]]),
                                               error=("sample_submission.csv", "duplicate id 'TEST_002'")),
    "sample with a duplicate in place of an id": Cell(
        "folders", _sample([[i, "circle"] for i in TEST_IDS[:8] + ["TEST_000"]]),
        error=("sample_submission.csv", "duplicate id 'TEST_000'", "line 10")),
    "sample with an empty id": Cell("folders", _sample([[i, "circle"] for i in TEST_IDS] + [["", "circle"]]),
                                    error=("sample_submission.csv", "empty id on line 11")),
    "sample with extra columns": Cell("folders", _sample([[i, "circle", "0.5"] for i in TEST_IDS], "id,target,prob"),
                                      error=("sample_submission.csv", "['id', 'target', 'prob']",
                                             "differ from the spec's [id, target]")),
    "sample that is a FIFO": Cell("folders", lambda r: (r / "sample_submission.csv").unlink() or os.mkfifo(
        r / "sample_submission.csv"), error=("sample_submission.csv", "not a regular file")),
    "sample with a header only": Cell("folders", _sample([]), error=("sample_submission.csv", "no rows")),
    # odd entries (issue 30): names, links, folders and permissions
    "a link loop in test/": Cell("folders", lambda r: (r / "test" / "loop.png").symlink_to("loop.png"),
                                 error=("data/tiny/test/loop.png", "cannot read", "symbolic links")),
    "a folder named like an image in train/": Cell("folders", lambda r: (r / "train" / "x.jpg").mkdir(),
                                                   error=("data/tiny/train/x.jpg", "class folder has no images")),
    "a name with a newline in a class folder": Cell(
        "folders", _copy_as("train/circle/0000.png", "train/circle/a\nb.png"),
        error=("data/tiny/train/circle: the name 'a\\nb.png' holds the control character U+000A", "rename it")),
    "a name with a newline in test/": Cell(
        "folders", _copy_as("test/TEST_000.png", "test/TEST\n9.png"),
        error=("data/tiny/test: the name 'TEST\\n9.png' holds the control character U+000A", "rename it")),
    "a class folder named with a tab": Cell(
        "folders", lambda r: (r / "train" / "circle").rename(r / "train" / "cir\tcle"),
        error=("data/tiny/train: class 'cir\\tcle' holds the invisible character U+0009",)),
    "a non-UTF-8 name in a class folder": Cell(
        "folders", _copy_to_bytes("train/square/0000.png", b"train/square/\xff\xfe.png"),
        error=("data/tiny/train/square: the name '\\udcff\\udcfe.png' is not valid UTF-8", "rename it")),
    "a non-UTF-8 class folder": Cell(
        "folders", lambda r: os.rename(r / "train" / "square", os.path.join(os.fsencode(r), b"train/sq\xc3")),
        error=("data/tiny/train: the name 'sq\\udcc3' is not valid UTF-8", "rename it")),
    "a non-UTF-8 test image, no sample submission": Cell(
        "folders", lambda r: _no_sample(r) or _copy_to_bytes("test/TEST_000.png", b"test/TEST_\xe9.png")(r),
        error=("data/tiny/test: the name 'TEST_\\udce9.png' is not valid UTF-8", "rename it")),
    "a non-UTF-8 name in the csv-labels train folder": Cell(
        "csv", _copy_to_bytes("flat/00001.png", b"flat/\x80.png"),
        error=("data/tiny/flat: the name '\\udc80.png' is not valid UTF-8", "rename it")),
    "an unreadable class folder (mode 000)": Cell(
        "folders", lambda r: os.chmod(r / "train" / "square", 0),
        error=("data/tiny/train/square", "cannot list the folder", "Permission denied"), marks=(AS_ROOT,)),
}
READ_CELLS = {
    "non-ASCII class names": Cell("folders", _rename_classes, check=_check_renamed),
    "hidden files": Cell("folders", lambda r: [_write(r / p) for p in (
        "train/circle/.DS_Store", "train/.DS_Store", "test/.DS_Store", "test/._TEST_000.png")], check=_unchanged),
    "Thumbs.db and desktop.ini": Cell("folders", lambda r: [_write(r / p) for p in (
        "train/circle/Thumbs.db", "train/square/desktop.ini", "test/Thumbs.db")], check=_unchanged),
    "a .txt in a class folder": Cell("folders", lambda r: _write(r / "train/circle/notes.txt"),
                                     warned=("train/circle: skipped 1 file(s) without an image extension: notes.txt",),
                                     check=_unchanged),
    "a non-image extension in test/": Cell("folders", lambda r: _write(r / "test/TEST_100.heic"),
                                           warned=("data/tiny/test: skipped 1 file(s) without an image extension",
                                                   "TEST_100.heic"), check=_unchanged),
    "a subfolder in a class folder": Cell("folders", _copy_as("train/circle/0001.png", "train/circle/more/0001.png"),
                                          warned=("train/circle: skipped 1 folder(s)", "more"), check=_unchanged),
    "a FIFO in a class folder": Cell("folders", lambda r: os.mkfifo(r / "train/circle/pipe.png"),
                                     warned=("train/circle: skipped 1 special file(s)", "pipe.png"), check=_unchanged),
    "a FIFO in train/": Cell("folders", lambda r: os.mkfifo(r / "train/pipe"),
                             warned=("data/tiny/train: skipped 1 file(s) outside a class folder", "pipe"),
                             check=_unchanged),
    "a FIFO in test/": Cell("folders", lambda r: os.mkfifo(r / "test/TEST_100.png"),
                            warned=("data/tiny/test: skipped 1 special file(s)", "TEST_100.png"), check=_unchanged),
    # odd entries (issue 30): sockets, FIFOs, folders named like images, names, empty and unreadable images
    "a socket in a class folder": Cell("folders", _socket("train/circle/s.png"),
                                       warned=("train/circle: skipped 1 special file(s)", ": s.png"), check=_unchanged),
    "a socket in test/": Cell("folders", _socket("test/TEST_100.png"),
                              warned=("data/tiny/test: skipped 1 special file(s)", ": TEST_100.png"), check=_unchanged),
    "a FIFO in the csv-labels train folder": Cell("csv", lambda r: os.mkfifo(r / "flat/00100.png"),
                                                  warned=("data/tiny/flat: skipped 1 special file(s)", ": 00100.png"),
                                                  check=_csv_unchanged),
    "a folder named like an image in a class folder": Cell(
        "folders", lambda r: (r / "train" / "circle" / "x.jpg").mkdir(),
        warned=("train/circle: skipped 1 folder(s)", ": x.jpg"), check=_unchanged),
    "a folder named like an image in test/": Cell("folders", lambda r: (r / "test" / "TEST_100.jpg").mkdir(),
                                                  warned=("data/tiny/test: skipped 1 folder(s)", ": TEST_100.jpg"),
                                                  check=_unchanged),
    "a folder named like an image in the csv-labels train folder": Cell(
        "csv", lambda r: (r / "flat" / "00100.png").mkdir(),
        warned=("data/tiny/flat: skipped 1 folder(s)", ": 00100.png"), check=_csv_unchanged),
    "a name that is only an extension (a hidden file)": Cell(
        "folders", lambda r: [_write(r / p) for p in ("train/circle/.png", "test/.jpg")], check=_unchanged),
    "a non-image name with an undecodable byte": Cell(
        "folders", lambda r: _write(Path(os.fsdecode(os.path.join(os.fsencode(r), b"train/circle/notes\xff.txt")))),
        warned=("train/circle: skipped 1 file(s) without an image extension: 'notes\\udcff.txt'",), check=_unchanged),
    "a zero-byte test image": Cell("folders", lambda r: _write(r / "test" / "TEST_003.png", b""),
                                   check=_undecodable("test/TEST_003.png", "cannot decode image (empty file)")),
    "an unreadable image (mode 000)": Cell("folders", lambda r: os.chmod(r / "train" / "circle" / "0002.png", 0),
                                           check=_undecodable("train/circle/0002.png", "Permission denied"),
                                           marks=(AS_ROOT,)),
    "labels CSV with a BOM": Cell("csv", lambda r: (r / "labels.csv").write_bytes(
        b"\xef\xbb\xbf" + (r / "labels.csv").read_bytes().replace(b"\n", b"\r\n")),
        check=lambda ds: ds.class_names == ["circle", "square", "stripe"] and ds.train["id"].iloc[0] == "00000"),
    "sample with a BOM": Cell("folders", lambda r: (r / "sample_submission.csv").write_bytes(
        b"\xef\xbb\xbf" + (r / "sample_submission.csv").read_bytes()), check=_unchanged),
}


def _params(cells: dict[str, Cell]) -> list:
    """The cells' names and marks; a FIFO's cells time out rather than hang where a reader would open it."""
    return [pytest.param(name, marks=[*cell.marks, *([pytest.mark.timeout(60)] if "FIFO" in name else [])])
            for name, cell in cells.items()]


def _prepare(request, cell: Cell) -> Path:
    root = request.getfixturevalue("csv_competition" if cell.layout == "csv" else "tiny_competition")
    cell.change(root / "data" / "tiny")
    return root


def _read_recording_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = read_dataset(load_competition("tiny"))
    return ds, [str(w.message) for w in caught]


@pytest.mark.parametrize("name", _params(ERROR_CELLS))
def test_messy_data_folder_refused_in_one_line(request, name, cli, error_line):
    cell = ERROR_CELLS[name]
    _prepare(request, cell)
    error_line(cli("validate", "probe.csv", "-c", "tiny"), *cell.error)
    with pytest.raises(CompError) as e:
        read_dataset(load_competition("tiny"))
    assert all(fragment in str(e.value) for fragment in cell.error), str(e.value)


@pytest.mark.parametrize("name", _params(READ_CELLS))
def test_messy_data_folder_reads(request, name, cli):
    cell = READ_CELLS[name]
    root = _prepare(request, cell)
    ds, warned = _read_recording_warnings()
    if cell.warned:
        assert len(warned) == 1 and all(f in warned[0] for f in cell.warned), warned
    else:
        assert warned == []
    assert cell.check(ds) is not False
    pd.DataFrame({"id": ds.test["id"], "target": ds.class_names[0]}).to_csv(root / "probe.csv", index=False)
    result = cli("validate", "probe.csv", "-c", "tiny")
    assert result.exit_code == 0, result.output
    lines = result.stderr.strip("\n").splitlines()
    assert lines == ([f"warning: {warned[0]}"] if cell.warned else []), result.stderr


# --------------------------------------------------------------------------- D. comp train over odd entries

FIFO_PLACES = {  # (layout, the FIFO's path under data/tiny, the folder the warning names)
    "a class folder": ("folders", "train/circle/x.png", "data/tiny/train/circle"),
    "the test folder": ("folders", "test/x.png", "data/tiny/test"),
    "the csv-labels train folder": ("csv", "flat/x.png", "data/tiny/flat"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("python_filter", ["as-is", "ignore", "error::UserWarning"])
@pytest.mark.parametrize("place", FIFO_PLACES)
def test_train_warns_once_of_a_fifo_named_like_an_image(request, place, python_filter, cli, train_args):
    """comp train never opens the FIFO, and says once which folder held it and its name, whatever
    Python's warning filters say (PYTHONWARNINGS=ignore hid it; -W error::UserWarning made it a crash)."""
    layout, fifo, folder = FIFO_PLACES[place]
    root = request.getfixturevalue("csv_competition" if layout == "csv" else "tiny_competition")
    os.mkfifo(root / "data" / "tiny" / fifo)
    action, _, category = python_filter.partition("::")
    with warnings.catch_warnings():
        if action != "as-is":  # as PYTHONWARNINGS=ignore or -W error::UserWarning set them
            warnings.simplefilter(action, UserWarning if category else Warning)
        result = cli(*train_args, "--folds", "2", "--fold", "0", "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1, result.stderr
    assert warned[0].startswith(f"warning: {folder}: skipped 1 special file(s)") and warned[0].endswith(": x.png"), \
        warned


def _non_utf8(relative: bytes, source: str = "") -> Callable[[Path], None]:
    """Copies ``source`` (an image of the data, relative to its root) to a name that is not UTF-8;
    no ``source``: renames the class folder circle to it."""
    def change(root: Path) -> None:
        target = os.path.join(os.fsencode(root), relative)
        if source:
            shutil.copy(root / source, target)
        else:
            os.rename(root / "train" / "circle", target)
    return change


NON_UTF8 = {  # (layout, the change, fragments of the error line)
    "an image of a class folder": ("folders", _non_utf8(b"train/circle/bad\xff.png", "train/circle/0000.png"),
                                   ("data/tiny/train/circle: the name 'bad\\udcff.png' is not valid UTF-8",)),
    "a class folder": ("folders", _non_utf8(b"train/circ\xe9le"),
                       ("data/tiny/train: the name 'circ\\udce9le' is not valid UTF-8",)),
    "a test image": ("folders", _non_utf8(b"test/TEST_\xff.png", "test/TEST_000.png"),
                     ("data/tiny/test: the name 'TEST_\\udcff.png' is not valid UTF-8",)),
    "an image of the csv-labels train folder": ("csv", _non_utf8(b"flat/bad\xff.png", "flat/00000.png"),
                                                ("data/tiny/flat: the name 'bad\\udcff.png' is not valid UTF-8",)),
}


@pytest.mark.parametrize("place", NON_UTF8)
def test_train_refuses_a_name_that_is_not_utf8(request, place, cli, train_args, error_line, assert_no_run):
    """Ids and class names are written to UTF-8 files (folds.csv, the submission): such a name is
    refused in one line that shows it as ascii() does and says what is accepted."""
    layout, change, fragments = NON_UTF8[place]
    root = request.getfixturevalue("csv_competition" if layout == "csv" else "tiny_competition")
    change(root / "data" / "tiny")
    line = error_line(cli(*train_args, "--folds", "2", "--fold", "0", "--set", "train.epochs=1"), *fragments,
                      "rename it to a UTF-8 name")
    assert not any(0xDC80 <= ord(c) <= 0xDCFF for c in line)  # no undecodable byte reaches the terminal
    assert_no_run(root)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fold_processes_do_not_repeat_what_comp_train_said_of_the_data(tiny_competition):
    """--executor process: each fold's process reads the data again; the warning is said once, by comp train."""
    import subprocess
    import sys

    os.mkfifo(tiny_competition / "data" / "tiny" / "train" / "circle" / "x.png")
    result = subprocess.run([sys.executable, "-m", "comp", "train", "-c", "tiny", "-r", "tiny", "-q", "--folds", "2",
                             "--set", "train.epochs=1"], cwd=tiny_competition, capture_output=True, text=True,
                            timeout=280)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and warned[0].endswith(": x.png"), result.stderr
