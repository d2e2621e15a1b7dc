"""comp.data.archives: a competition's archives are unpacked once, into a folder named after them,
completely or not at all; unsafe or broken archives are refused before anything is written."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from comp.data import archives
from comp.data.archives import RECORD, unpack_archives
from comp.data.checks import list_images
from comp.errors import CompError

FILES = {"cat/1.png": b"one", "dog/2.png": b"two"}


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def write_tar(path: Path, files: dict[str, bytes], links: dict[str, str] = {}) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith(("gz", "tgz")) else "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) by its relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def unpacked(folder: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(folder).items() if k != RECORD}


def one_line_error(call, *needles: str) -> str:
    with pytest.raises(CompError) as err:
        call()
    text = str(err.value)
    assert "\n" not in text and all(n in text for n in needles), text
    return text


@pytest.mark.parametrize("name", ["train.zip", "train.tar", "train.tar.gz", "train.tgz"])
def test_archive_unpacks_into_the_folder_named_after_it(tmp_path, name):
    archive = tmp_path / name
    write_zip(archive, FILES) if name.endswith(".zip") else write_tar(archive, FILES)
    said = []
    assert unpack_archives(tmp_path, [name], say=said.append) == [tmp_path / "train"]
    assert unpacked(tmp_path / "train") == FILES
    assert (tmp_path / "train" / RECORD).is_file() and said == []
    assert [p.name for p in list_images(tmp_path / "train" / "cat")] == ["1.png"]  # the record is not an image
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted([name, "train"])


@pytest.mark.parametrize("name", ["train.zip", "train.tar.gz"])
def test_a_top_folder_of_the_same_name_is_not_doubled(tmp_path, name):
    files = {"train/": b"", **{f"train/{k}": v for k, v in FILES.items()}}
    if name.endswith(".zip"):
        write_zip(tmp_path / name, files)
    else:
        write_tar(tmp_path / name, {k: v for k, v in files.items() if not k.endswith("/")})
    unpack_archives(tmp_path, [name], say=lambda line: None)
    assert unpacked(tmp_path / "train") == FILES


def test_another_top_folder_is_kept_and_mac_resource_forks_are_left_out(tmp_path):
    write_zip(tmp_path / "test.zip", {"images/a.png": b"a", "__MACOSX/images/._a.png": b"fork"})
    unpack_archives(tmp_path, ["test.zip"])
    assert unpacked(tmp_path / "test") == {"images/a.png": b"a"}


def test_an_unchanged_archive_is_not_unpacked_again(tmp_path):
    write_zip(tmp_path / "train.zip", FILES)
    unpack_archives(tmp_path, ["train.zip"])
    first = tmp_path / "train" / "cat" / "1.png"
    mtime = first.stat().st_mtime_ns
    (tmp_path / "train" / "dog" / "2.png").unlink()  # a second unpacking would bring it back
    said = []
    assert unpack_archives(tmp_path, ["train.zip"], say=said.append) == [tmp_path / "train"]
    assert first.stat().st_mtime_ns == mtime and said == []
    assert unpacked(tmp_path / "train") == {"cat/1.png": b"one"}


def test_a_changed_archive_is_unpacked_again_and_replaces_the_folder(tmp_path):
    archive = write_zip(tmp_path / "train.zip", FILES)
    unpack_archives(tmp_path, ["train.zip"])
    write_zip(archive, {"bird/3.png": b"three"})
    os.utime(archive, ns=(archive.stat().st_atime_ns, archive.stat().st_mtime_ns + 10**9))
    said = []
    unpack_archives(tmp_path, ["train.zip"], say=said.append)
    assert unpacked(tmp_path / "train") == {"bird/3.png": b"three"}
    assert len(said) == 1 and "changed" in said[0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_folder_unpacked_by_hand_is_used_as_it_is(tmp_path):
    write_zip(tmp_path / "train.zip", FILES)
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "mine.png").write_bytes(b"mine")
    said = []
    assert unpack_archives(tmp_path, ["train.zip"], say=said.append) == [tmp_path / "train"]
    assert tree(tmp_path / "train") == {"mine.png": b"mine"}
    assert len(said) == 1 and "using it as it is" in said[0] and "\n" not in said[0]


def test_a_folder_whose_archive_was_deleted_is_used(tmp_path):
    archive = write_zip(tmp_path / "train.zip", FILES)
    unpack_archives(tmp_path, ["train.zip"])
    archive.unlink()
    said = []
    unpack_archives(tmp_path, ["train.zip"], say=said.append)
    assert unpacked(tmp_path / "train") == FILES and "not found" in said[0]


def _zip_slip(tmp_path):
    return write_zip(tmp_path / "train.zip", {"cat/1.png": b"ok", "../evil.png": b"evil"})


def _absolute(tmp_path):
    return write_zip(tmp_path / "train.zip", {"cat/1.png": b"ok", "/tmp/evil.png": b"evil"})


def _tar_symlink(tmp_path):
    return write_tar(tmp_path / "train.tar", {"cat/1.png": b"ok"}, links={"cat/evil.png": "/etc/passwd"})


def _tar_dotdot(tmp_path):
    return write_tar(tmp_path / "train.tar.gz", {"cat/1.png": b"ok", "cat/../../evil.png": b"evil"})


def _tar_device(tmp_path):
    path = write_tar(tmp_path / "train.tar", {"cat/1.png": b"ok"})
    with tarfile.open(path, "a") as tf:
        info = tarfile.TarInfo("cat/null")
        info.type = tarfile.CHRTYPE
        tf.addfile(info)
    return path


def _control_character(tmp_path):
    return write_zip(tmp_path / "train.zip", {"cat/1.png": b"ok", "cat/a\nb.png": b"x"})


def _bad_utf8(tmp_path):
    return write_tar(tmp_path / "train.tar", {"cat/1.png": b"ok", "cat/bad\udcff.png": b"x"})


def _bad_utf8_zip(tmp_path):
    return _zip_with_raw_name(tmp_path / "train.zip", b"\xff\xfe")


def _corrupt_zip(tmp_path):
    path = tmp_path / "train.zip"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    return path


@pytest.mark.parametrize("make, needles", [
    (_zip_slip, ["'../evil.png'", "leads out"]),
    (_absolute, ["'/tmp/evil.png'", "absolute"]),
    (_tar_symlink, ["'cat/evil.png'", "link"]),
    (_tar_dotdot, ["'cat/../../evil.png'", "leads out"]),
    (_tar_device, ["'cat/null'", "device"]),
    (_control_character, ["'cat/a\\nb.png'", "control character"]),
    (_bad_utf8, ["cat/bad\\udcff.png", "UTF-8"]),
    (_bad_utf8_zip, ["chat/\\xff\\xfe.png", "UTF-8"]),
    (_corrupt_zip, ["cannot read the archive"]),
])
def test_unsafe_or_broken_archives_are_refused_before_anything_is_written(tmp_path, make, needles):
    root = tmp_path / "comp"
    root.mkdir()
    archive = make(root)
    one_line_error(lambda: unpack_archives(root, [archive.name]), str(archive), *needles)
    assert [p.name for p in root.iterdir()] == [archive.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comp"]  # nothing outside either


def test_an_archive_damaged_midway_leaves_no_folder(tmp_path):
    archive = tmp_path / "train.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("cat/1.png", b"first file")
        zf.writestr("cat/2.png", b"second file, damaged")
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"second file, damaged", b"second file, DAMAGED"))  # a CRC error
    one_line_error(lambda: unpack_archives(tmp_path, ["train.zip"]), str(archive), "cannot unpack")
    assert not (tmp_path / "train").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_damaged_new_archive_keeps_the_folder_of_the_old_one(tmp_path):
    archive = write_zip(tmp_path / "train.zip", FILES)
    unpack_archives(tmp_path, ["train.zip"])
    archive.write_bytes(b"not a zip any more")
    one_line_error(lambda: unpack_archives(tmp_path, ["train.zip"]), "cannot read the archive")
    assert unpacked(tmp_path / "train") == FILES


@pytest.mark.parametrize("names, needles", [
    (["train.zip"], ["train.zip", "archive not found"]),
    (["train.rar"], ["train.rar", "unsupported archive", ".tar.gz", ".zip"]),
    (["../train.zip"], ["'../train.zip'", "inside the folder"]),
    (["train.zip", "train.tar"], ["train.zip and train.tar", "both unpack"]),
])
def test_bad_names_are_one_line_each(tmp_path, names, needles):
    one_line_error(lambda: unpack_archives(tmp_path, names), *needles)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_archive_is_refused(tmp_path):
    write_zip(tmp_path / "test.zip", {})
    one_line_error(lambda: unpack_archives(tmp_path, ["test.zip"]), "test.zip", "no files")
    assert [p.name for p in tmp_path.iterdir()] == ["test.zip"]


def _zip_with_raw_name(path: Path, raw: bytes) -> Path:
    """A zip whose second entry's name is the bytes ``raw`` (7 long), without the UTF-8 flag."""
    write_zip(path, {"cat/1.png": b"ok", "chat/XX.png": b"cat"})
    path.write_bytes(path.read_bytes().replace(b"chat/XX.png", b"chat/" + raw + b".png"))
    return path


def test_utf8_names_of_a_zip_without_the_utf8_flag_are_read_as_utf8(tmp_path):
    archive = _zip_with_raw_name(tmp_path / "train.zip", "é".encode("utf-8"))  # as many zip tools write it
    assert not zipfile.ZipFile(archive).infolist()[1].flag_bits & 0x800
    unpack_archives(tmp_path, ["train.zip"])
    assert unpacked(tmp_path / "train") == {"cat/1.png": b"ok", "chat/é.png": b"cat"}


def test_large_archives_show_a_progress_bar(tmp_path, monkeypatch):
    bars = []
    real = archives.tqdm
    monkeypatch.setattr(archives, "tqdm", lambda it, **kw: bars.append(kw) or real(it, **kw))
    monkeypatch.setattr(archives, "BAR_ENTRIES", 2)
    write_zip(tmp_path / "train.zip", FILES)
    unpack_archives(tmp_path, ["train.zip"])
    assert bars and bars[0]["desc"] == "unpack train.zip" and bars[0]["disable"] is None
