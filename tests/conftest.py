"""Shared fixtures: a tiny generated competition and a recipe that trains in seconds, the command
line run in-process (``cli``) and the checks of its error line, and a submissions folder (zoo).

Test modules never import each other or this file: what they share is a fixture here.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLASSES = ["circle", "square", "stripe"]


def make_image(kind: str, rng: np.random.Generator, size: int = 12) -> np.ndarray:
    """A small RGB image whose class is easy to learn: a blob, a box or stripes, plus noise."""
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    c = size / 2 + rng.uniform(-1, 1, 2)
    if kind == "circle":
        mask = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 < (size / 3) ** 2
        img[mask] = [230, 40, 40]
    elif kind == "square":
        mask = (abs(yy - c[0]) < size / 3) & (abs(xx - c[1]) < size / 3)
        img[mask] = [40, 230, 40]
    else:
        img[(xx // 2) % 2 == 0] = [40, 40, 230]
    return img


def write_class_folders(root: Path, per_class: int = 12, n_test: int = 9, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for cls in CLASSES:
        d = root / "train" / cls
        d.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(make_image(cls, rng)).save(d / f"{i:04d}.png")
    (root / "test").mkdir(parents=True)
    ids = []
    for i in range(n_test):
        ids.append(f"TEST_{i:03d}")
        Image.fromarray(make_image(CLASSES[i % 3], rng)).save(root / "test" / f"{ids[-1]}.png")
    pd.DataFrame({"id": ids, "target": CLASSES[0]}).to_csv(root / "sample_submission.csv", index=False)
    pd.DataFrame({"id": ids, "target": [CLASSES[i % 3] for i in range(n_test)]}).to_csv(
        root / "answers.csv", index=False)


TINY_SPEC = """\
name = "tiny"
title = "tiny generated shapes"
metric = "accuracy"

[data]
root = "data/tiny"
layout = "class-folders"
sample_submission = "sample_submission.csv"
answers = "answers.csv"
image_size = [12, 12]

[submission]
id_column = "id"
target_column = "target"
target_format = "name"

[rules]
pretrained_weights = false
"""

TINY_RECIPE = """\
name = "tiny"
description = "two small stages, a few epochs: for tests"

[model]
name = "vgg"
widths = [8, 16]
convs_per_stage = 1
dropout = 0.0

[augment]
preset = "light"
flip = true
mixup_alpha = 0.2

[train]
epochs = 2
batch_size = 8
lr = 0.02
warmup_epochs = 0.5
seed = 1

[predict]
tta = "flip"
batch_size = 32
"""


@pytest.fixture
def tiny_competition(tmp_path, monkeypatch) -> Path:
    """A working directory with competition/tiny.toml, competition/recipes/tiny.toml and data/tiny/.

    3 classes x 12 train images and 9 test images of 12x12 pixels.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "competition" / "recipes").mkdir(parents=True)
    (tmp_path / "competition" / "tiny.toml").write_text(TINY_SPEC)
    (tmp_path / "competition" / "recipes" / "tiny.toml").write_text(TINY_RECIPE)
    write_class_folders(tmp_path / "data" / "tiny")
    return tmp_path


@pytest.fixture(autouse=True)
def _float32_policy_after_each_test():
    """Training sets Keras' global precision policy (mixed_bfloat16 on AMX CPUs); folds run in
    processes of their own, but tests share one, so each test starts from float32 again. A test
    process that never imported Keras has no policy to reset (and does not import TensorFlow here)."""
    yield
    if "comp.tf_quiet" not in sys.modules:
        return
    from comp.tf_quiet import keras

    keras.mixed_precision.set_global_policy("float32")


# --------------------------------------------------------------------------- the tiny competition's parts


@pytest.fixture
def tiny_classes() -> list[str]:
    """The generated competition's classes, in the order its class folders sort."""
    return list(CLASSES)


@pytest.fixture
def tiny_spec() -> str:
    """competition/tiny.toml as tiny_competition writes it (class folders, 12x12, metric accuracy)."""
    return TINY_SPEC


@pytest.fixture
def shape_image():
    """``shape_image(kind, rng, size=12)``: a uint8 RGB array of a class (``circle``, ``square``,
    ``stripe``) easy to learn, as the tiny competition's images are drawn."""
    return make_image


CSV_SPEC = """\
name = "tiny"
metric = "accuracy"

[data]
root = "data/tiny"
layout = "csv-labels"
train = "flat"
labels = "labels.csv"
label_columns = ["id", "label"]
sample_submission = "sample_submission.csv"
image_size = [12, 12]
"""


@pytest.fixture
def csv_competition(tiny_competition):
    """The tiny data re-laid as Kaggle csv-labels: flat/<id>.png + labels.csv (ids with leading zeros)."""
    root = tiny_competition / "data" / "tiny"
    rows = []
    (root / "flat").mkdir()
    for n, png in enumerate(sorted((root / "train").rglob("*.png"))):
        shutil.copy(png, root / "flat" / f"{n:05d}.png")
        rows.append((f"{n:05d}", png.parent.name))
    pd.DataFrame(rows, columns=["id", "label"]).to_csv(root / "labels.csv", index=False)
    (tiny_competition / "competition" / "tiny.toml").write_text(CSV_SPEC)
    return tiny_competition


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cli():
    """``cli(*args, catch=False)``: ``comp *args`` run in this process; a click ``Result``.

    The result has ``.exit_code``, ``.stdout`` and ``.stderr`` apart, and ``.output`` (both,
    interleaved as a terminal shows them). ``catch=False``: an exception that escapes comp's own
    handling fails the test where it is raised, with its traceback; ``catch=True``: it becomes
    the result's ``.exception`` and exit status 1, for tests that look at such an end.
    """
    from click.testing import CliRunner

    from comp.cli import main

    def run(*args: str, catch: bool = False):
        return CliRunner().invoke(main, list(args), catch_exceptions=catch)

    return run


@pytest.fixture
def train_args() -> tuple[str, ...]:
    """``comp train`` of the tiny competition and recipe, inline (in this process) and quiet."""
    return ("train", "-c", "tiny", "-r", "tiny", "--executor", "inline", "-q")


def _assert_nothing_half_written(root: Path) -> None:
    subs = root / "submissions"
    assert not subs.exists() or not list(subs.glob("*.csv")), list(subs.iterdir())
    temporary = [p for p in root.rglob("*") if p.name.startswith(".tmp") or p.name.endswith(".tmp")]
    assert temporary == []
    for fold in root.glob("runs/*/*/fold-*"):
        assert (fold / "metrics.json").is_file() or not any(fold.iterdir()), f"{fold} is half-trained"


def _error_line(result, *fragments: str, only_line: bool = True, check_tree: bool = True) -> str:
    """The one ``error:`` line of a failed command; checks exit status 2 and no traceback.

    ``only_line``: the error is all of stderr (the input was refused before any work started);
    otherwise earlier progress lines may precede it, but the error is still one line, and last.
    ``check_tree``: nothing is half-written in the working folder (no submission CSV, no
    temporary file, no half-trained fold).
    """
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip("\n").splitlines()
    assert lines, "nothing on stderr"
    if only_line:
        assert len(lines) == 1, result.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [lines[-1]], result.stderr
    for fragment in fragments:
        assert fragment in lines[-1], f"{fragment!r} not in {lines[-1]!r}"
    if check_tree:
        _assert_nothing_half_written(Path.cwd())  # the tiny_competition folder
    return lines[-1]


@pytest.fixture
def error_line():
    """``error_line(result, *fragments, only_line=True)``: the ``error:`` line of a command that
    failed on bad input (exit 2, no traceback, each fragment in the line), which left nothing
    half-written in the working folder; returns the line."""
    return _error_line


@pytest.fixture
def submit_error_line():
    """``submit_error_line(result, *fragments)``: the one ``error:`` line of a refused ``comp
    submit`` or ``comp lb`` (exit 2, no traceback, each fragment in it); the working folder is not
    checked (its submissions/ holds CSVs by design). Returns the line."""
    return functools.partial(_error_line, only_line=True, check_tree=False)


@pytest.fixture
def assert_no_run():
    """``assert_no_run(root)``: no run was created under ``root/runs`` (no config.toml)."""
    def check(root: Path) -> None:
        assert not (root / "runs").exists() or not list((root / "runs").rglob("config.toml"))

    return check


# --------------------------------------------------------------------------- a submission folder (zoo)

ZOO_SPEC = """\
name = "zoo"
metric = "accuracy"

[data]
root = "data/zoo"

[rules]
{rules}

{platform}
"""
KAGGLE = '[platform]\nkaggle = "zoo-slug"'
DACON = "[platform]\ndacon = 235838"


def _write_spec(platform: str = KAGGLE, rules: str = "") -> None:
    Path("competition").mkdir(exist_ok=True)
    Path("competition/zoo.toml").write_text(ZOO_SPEC.format(platform=platform, rules=rules))


def _write_run(run_id: str, score: float | None = 0.81, seed: int = 1, split_seed: int | None = None,
               competition: str = "zoo", **flags) -> Path:
    run = {"competition": competition, "recipe": "fast", "folds": 2, "val_fraction": 0.2, "seed": seed,
           "overrides": [], "pretrained": False, **flags}
    if split_seed is not None:
        run["split_seed"] = split_seed
    config = {"created": "2025-01-01T00:00:00+00:00", "run": run,
              "recipe": {"name": "fast", "model": {"name": "fast"}, "train": {"seed": seed}},
              "competition": {"name": competition, "data": {"root": f"data/{competition}"}}}
    run_dir = Path("runs") / competition / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "config.toml").write_text(tomli_w.dumps(config))
    if score is not None:
        (run_dir / "metrics.json").write_text(json.dumps({"oof_score": score, "folds": 2, "finished_folds": 2}))
    return run_dir


def _manifest(runs=("a",), oof: float = 0.81, competition: str = "tiny"):
    """A manifest as make_submission builds it, before write_submission adds csv, rows and sha256."""
    from comp.submit.manifest import Manifest, RuleCheck, RunRecord

    return Manifest(competition=competition, created_by="comp test",
                    runs=[RunRecord(r, "fast", [0, 1], 2, 2, oof, False) for r in runs],
                    ensemble="mean of fold probabilities", weights=[1 / len(runs)] * len(runs),
                    weights_mode="equal", tta="flip", metric="accuracy",
                    rule_check=RuleCheck(False, False, False, False, False, True))


@pytest.fixture
def a_manifest():
    """``a_manifest(runs=("a",), oof=0.81, competition="tiny")``: a typed manifest of finished runs."""
    return _manifest


def _write_csv(name: str = "zoo-a.csv", runs=("a",), oof: float = 0.81, competition: str = "zoo") -> Path:
    from comp.submit.submission import write_submission

    path = Path("submissions") / name
    frame = pd.DataFrame({"id": ["001", "002", "003"], "target": ["cat", "dog", "cat"]})
    write_submission(frame, path, _manifest(runs, oof, competition))
    return path


@pytest.fixture
def write_spec():
    """``write_spec(platform=<kaggle zoo-slug>, rules="")``: competition/zoo.toml in the working
    folder, with ``platform`` (a ``[platform]`` table, or "" for none) and the ``[rules]`` lines."""
    return _write_spec


@pytest.fixture
def dacon_platform() -> str:
    """The ``[platform]`` table of a Dacon competition (id 235838), for ``write_spec``."""
    return DACON


@pytest.fixture
def write_run():
    """``write_run(run_id, score=0.81, seed=1, split_seed=None, competition="zoo", **flags)``: a
    finished run as the rule check and the seed groups read it (config.toml, and metrics.json
    unless ``score`` is None) under runs/<competition>/ of the working folder; ``flags`` join the
    run's table (``pretrained=True``, ``test_data=True``). Returns its folder."""
    return _write_run


@pytest.fixture
def write_csv():
    """``write_csv(name="zoo-a.csv", runs=("a",), oof=0.81, competition="zoo")``: a submission
    under submissions/ and its manifest, as comp predict writes them. Returns the CSV's path."""
    return _write_csv
