"""A disk that fills up while writing: one clear line, exit 2, nothing half-written left behind."""

from __future__ import annotations

import errno

import comp.files.atomic
import comp.data.images


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _leftovers(root):
    return [p for p in root.rglob("*") if p.name.startswith(".tmp-") or p.name.endswith(".tmp")]


def test_submission_write_on_a_full_disk(tiny_competition, monkeypatch, cli):
    trained = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "d",
                  "--executor", "inline", "-q", "--set", "train.epochs=1", catch=True)
    assert trained.exit_code == 0, trained.output
    monkeypatch.setattr(comp.files.atomic.os, "fsync", _enospc)
    res = cli("predict", "-c", "tiny", "--ensemble", catch=True)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: submissions/tiny-d-") and "No space left on device" in lines[-1]
    assert sum(line.startswith("error:") for line in lines) == 1 and "Traceback" not in res.output
    assert not list((tiny_competition / "submissions").glob("*.csv"))
    assert not list((tiny_competition / "submissions").glob("*.json"))
    assert not _leftovers(tiny_competition)


def test_decode_cache_on_a_full_disk(tiny_competition, monkeypatch, cli):
    monkeypatch.setattr(comp.data.images.np.lib.format, "open_memmap", _enospc)
    res = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "-q", catch=True)
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: data/.cache/tiny: cannot write the decode cache "
                                  "(No space left on device)")
    assert not list(tiny_competition.rglob("*.npy")) and not _leftovers(tiny_competition)
    assert not (tiny_competition / "runs").exists()
