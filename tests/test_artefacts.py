"""A run's files read back damaged (issue 30): every command that reads one ends in one line.

A person, or a crash, may change what comp wrote: a run's ``classes.json``, ``folds.csv`` and
summary (``metrics.json``), a fold's ``metrics.json``, ``history.csv``, ``oof.npy``, ``test.npy``
and ``model.keras``, a student's ``teacher.npz``. :mod:`comp.runs.artefacts` reads each of them
checked. The walk below copies one trained folder (a run ``r`` of 2 folds, its student ``s``
with fold 0 of 2 trained, and a submission made from ``r``), damages one file in one way, and runs
every command on it: those that read the file end in exit 2 with one ``error:`` line naming it
(and what to do), the others are not disturbed. A damaged run summary is only a warning: it is
worked out again from the folds (``comp runs`` shows ``-``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from comp.errors import CompError

PLATFORM = '\n[platform]\nkaggle = "tiny-slug"\n'  # for comp submit --dry-run
EPOCHS = ("--set", "train.epochs=1")
TEACHER = ("--folds", "2", "--run", "r", *EPOCHS)
STUDENT = ("--folds", "2", "--run", "s", "--distill", "r", *EPOCHS)
RUN = Path("runs/tiny/r")
FOLD = RUN / "fold-0"
_BUILT: dict[str, Path] = {}  # the trained folder, built once per test process


@pytest.fixture
def trained(tiny_competition, cli, train_args, tmp_path_factory, monkeypatch) -> Path:
    """A copy of the trained folder (built on first use) as the working folder; returns it."""
    if "root" not in _BUILT:
        root = tmp_path_factory.mktemp("trained")
        for part in ("competition", "data"):
            shutil.copytree(tiny_competition / part, root / part)
        spec = root / "competition" / "tiny.toml"
        spec.write_text(spec.read_text() + PLATFORM)
        monkeypatch.chdir(root)
        for args in ((*train_args, *TEACHER), (*train_args, *STUDENT, "--fold", "0"),
                     ("predict", "-c", "tiny", "--run", "r", "--ensemble", "--out", "subs/r.csv")):
            result = cli(*args)
            assert result.exit_code == 0, result.output
        _BUILT["root"] = root
    work = tmp_path_factory.mktemp("work") / "w"
    shutil.copytree(_BUILT["root"], work)  # copy2: the files' times too (the runs' data fingerprints)
    monkeypatch.chdir(work)
    return work


# --------------------------------------------------------------------------- the kinds of damage

GARBAGE = np.random.default_rng(0).bytes(300)


def _edit_json(path: Path, damage: str) -> None:
    data = json.loads(path.read_text())
    key = {"classes.json": "classes", "metrics.json": "oof_score" if path.parent.name == "r" else "score"}[path.name]
    if damage == "wrong_shape":
        data = data[key] if key == "classes" else [data]
    elif damage == "nan":
        if key == "classes":
            data[key][1] = float("nan")
        else:
            data[key] = float("nan")
    elif damage == "missing_key":
        del data[{"classes": "classes", "oof_score": "oof_score", "score": "seconds"}[key]]
    elif damage == "wrong_type":
        field = {"classes": "classes", "oof_score": "finished_folds", "score": "epochs"}[key]
        data[field] = ",".join(data[field]) if key == "classes" else str(data[field])
    path.write_text(json.dumps(data))


def _edit_csv(path: Path, damage: str) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    column = "fold" if path.name == "folds.csv" else "epoch"
    if damage == "wrong_shape":
        table = table.iloc[:-3] if path.name == "folds.csv" else table.iloc[:0]
    elif damage == "nan":
        table.loc[0, "fold" if path.name == "folds.csv" else "loss"] = "" if path.name == "folds.csv" else "nan"
    elif damage == "missing_key":
        table = table.drop(columns=[column if path.name == "folds.csv" else "val_loss"])
    elif damage == "wrong_type":
        table.loc[0, column] = "x"
    table.to_csv(path, index=False)


def _edit_npy(path: Path, damage: str) -> None:
    probs = np.load(path)
    changed = {"wrong_shape": lambda: probs[:, :-1], "nan": lambda: np.where(np.eye(*probs.shape) > 0, np.nan, probs),
               "wrong_type": lambda: (probs * 100).astype(np.int64), "not_probabilities": lambda: probs * 3}[damage]()
    np.save(path, changed)


def _edit_npz(path: Path, damage: str) -> None:
    with np.load(path) as saved:
        arrays = {k: saved[k] for k in saved.files}
    train = arrays["train"]
    if damage == "wrong_shape":
        arrays["train"] = train[:-1]
    elif damage == "nan":
        arrays["train"] = np.where(np.eye(*train.shape) > 0, np.nan, train)
    elif damage == "missing_key":
        del arrays["train"]
    elif damage == "wrong_type":
        arrays["train"] = train.astype(str)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def damage_file(path: Path, damage: str) -> None:
    if damage == "removed":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(GARBAGE)
    else:
        edit = {".json": _edit_json, ".csv": _edit_csv, ".npy": _edit_npy, ".npz": _edit_npz}[path.suffix]
        edit(path, damage)


# --------------------------------------------------------------------------- the commands and what they should do

COMMANDS = {
    "runs": ("runs",),
    "submit": ("submit", "subs/r.csv", "--dry-run"),
    "predict": ("predict", "-c", "tiny", "--run", "r", "--ensemble", "--out", "subs/p.csv"),
    "predict-model": ("predict", "-c", "tiny", "--run", "r", "--ensemble", "--no-tta", "--out", "subs/m.csv"),
    "report": ("report", "r", "-c", "tiny"),
    "student": ("train", "-c", "tiny", "-r", "tiny", "--executor", "inline", "-q", *STUDENT, "--fold", "1"),
    "train": ("train", "-c", "tiny", "-r", "tiny", "--executor", "inline", "-q", *TEACHER),  # last: it repairs
}
ALL = ("removed", "truncated", "garbage", "wrong_shape", "nan", "missing_key", "wrong_type")
RESTART, RETRAIN_0 = "--restart", "--fold 0"
OK = None  # exit 0

# file -> (damages, {command: fragments of its error line, or OK}); the commands not named are not run
FILES = {
    RUN / "classes.json": (ALL, {"runs": OK, "submit": OK, "predict": (RESTART,), "report": (RESTART,),
                                 "student": (RESTART,), "train": (RESTART,)}),
    RUN / "folds.csv": (ALL, {"runs": OK, "submit": OK, "predict": OK, "report": (RESTART,),
                              "student": (RESTART,), "train": (RESTART,)}),
    RUN / "metrics.json": (ALL, {"runs": OK, "submit": OK, "predict": OK, "report": OK, "train": OK}),
    FOLD / "metrics.json": (ALL, {"runs": OK, "submit": OK, "predict": (RETRAIN_0,), "report": (RETRAIN_0,),
                                  "train": (RETRAIN_0,)}),
    FOLD / "history.csv": (ALL, {"runs": OK, "submit": OK, "predict": OK, "report": ("delete it",),
                                 "train": ("delete it",)}),
    FOLD / "oof.npy": (("removed", "truncated", "garbage", "wrong_shape", "nan", "wrong_type", "not_probabilities"),
                       {"runs": OK, "submit": OK, "predict": OK, "report": (RETRAIN_0,), "train": (RETRAIN_0,)}),
    FOLD / "test.npy": (("removed", "truncated", "garbage", "wrong_shape", "nan", "wrong_type", "not_probabilities"),
                        {"runs": OK, "submit": OK, "predict": ("delete it",), "report": OK, "train": OK}),
    FOLD / "model.keras": (("removed", "truncated", "garbage"), {"runs": OK, "submit": OK, "predict": OK,
                                                                "predict-model": (RETRAIN_0,), "report": OK,
                                                                "train": OK}),
    Path("runs/tiny/s/teacher.npz"): (ALL, {"runs": OK, "student": ("delete it",)}),
}
# where a damage is no damage, or another line says what is wrong
EXCEPTIONS = {
    (RUN / "folds.csv", "wrong_shape", "student"): ("teacher run 'r' was trained on other training images",),
    (RUN / "metrics.json", "*", "*"): OK,  # a damaged summary: a warning, and it is worked out from the folds
    (FOLD / "metrics.json", "removed", "predict"): ("--ensemble needs all of them",),  # fold 0 is not finished
    (FOLD / "metrics.json", "removed", "*"): OK,  # ... and comp train trains it again
    (FOLD / "metrics.json", "missing_key", "predict"): OK,  # predict needs no seconds
    (FOLD / "history.csv", "removed", "*"): OK,  # the curves leave fold 0 out
    (FOLD / "test.npy", "removed", "*"): OK,  # predicted again by the fold's model
    (Path("runs/tiny/s/teacher.npz"), "removed", "*"): OK,  # made again from the teacher
}
CASES = [(path, damage) for path, (damages, _) in FILES.items() for damage in damages]


def expected(path: Path, damage: str, command: str):
    for key in ((path, damage, command), (path, damage, "*"), (path, "*", "*")):
        if key in EXCEPTIONS:
            return EXCEPTIONS[key]
    fragments = FILES[path][1][command]
    return fragments if fragments is OK else (str(path), *fragments)


@pytest.mark.slow
@pytest.mark.parametrize("path,damage", CASES, ids=[f"{p.parent.name}/{p.name}-{d}" for p, d in CASES])
def test_every_command_on_a_damaged_file_ends_in_one_line(trained, cli, error_line, path, damage):
    damage_file(trained / path, damage)
    for command in FILES[path][1]:
        result = cli(*COMMANDS[command])
        want = expected(path, damage, command)
        if want is OK:
            assert result.exit_code == 0, f"{command}: {result.output}"
        else:
            unfinished = (path.name, damage) == ("metrics.json", "removed")  # fold 0 is left half-written
            line = error_line(result, *want, only_line=False, check_tree=not unfinished)
            assert line.count(str(path)) <= 1, line  # named once: no message inside another
        if path == RUN / "metrics.json" and damage != "removed" and command in ("runs", "predict"):
            assert f"warning: {path}: " in result.stderr, result.stderr


@pytest.mark.slow
def test_a_fold_trained_again_as_its_error_says_is_whole_again(trained, cli):
    damage_file(trained / FOLD / "oof.npy", "nan")
    line = cli(*COMMANDS["report"]).stderr.strip().splitlines()[-1]
    assert f"delete {FOLD}" in line and "--fold 0" in line, line
    shutil.rmtree(trained / FOLD)
    result = cli(*COMMANDS["train"][:-len(EPOCHS)], "--fold", "0", *EPOCHS)
    assert result.exit_code == 0, result.output
    assert cli(*COMMANDS["report"]).exit_code == 0
    assert cli(*COMMANDS["predict"]).exit_code == 0


@pytest.mark.slow
def test_a_run_whose_folds_are_damaged_starts_over_with_restart(trained, cli):
    damage_file(trained / RUN / "folds.csv", "garbage")
    result = cli(*COMMANDS["train"], "--restart")
    assert result.exit_code == 0, result.output
    assert cli(*COMMANDS["report"]).exit_code == 0


@pytest.mark.slow
def test_comp_runs_shows_a_damaged_summary_as_a_dash(trained, cli):
    damage_file(trained / RUN / "metrics.json", "nan")
    result = cli("runs")
    assert result.exit_code == 0, result.output
    assert _oof_column(result.stdout) == "-", result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {RUN / 'metrics.json'}: oof_score must be a finite number. Received: oof_score=nan; "
                        f"comp train of the run writes it again (its finished folds are not trained again)"], warnings
    assert cli(*COMMANDS["train"]).exit_code == 0  # as the warning says
    again = cli("runs")
    assert "warning" not in again.stderr and _oof_column(again.stdout) != "-", again.output


def _oof_column(table: str) -> str:
    """Run r's out-of-fold score in comp runs' table (the column after its folds, 2/2)."""
    row = next(line.split() for line in table.splitlines() if " r " in f" {line} ")
    return row[row.index("2/2") + 1]


# --------------------------------------------------------------------------- the loaders alone


def test_the_loaders_name_the_file_and_the_field(tmp_path):
    from comp.runs import artefacts

    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps({"classes": ["a", "a", "b"]}))
    with pytest.raises(CompError, match=r"classes.json: classes must be .*unique.*Received"):
        artefacts.read_classes(classes, "advice")
    folds = tmp_path / "folds.csv"
    folds.write_text("id,label,fold\n1,a,0\n2,b,3\n")
    with pytest.raises(CompError, match=r"folds.csv: row 2: fold must be an integer from 0 to 1. Received: fold='3'"):
        artefacts.read_folds(folds, ["a", "b"], 2, "advice")
    probs = tmp_path / "oof.npy"
    np.save(probs, np.array([[0.5, 0.5], [0.9, 0.3]], np.float32))
    with pytest.raises(CompError, match=r"oof.npy: row 2 sums to 1.2.*; advice$"):
        artefacts.read_probs(probs, 2, 2, "advice")
    with pytest.raises(CompError, match=r"oof.npy: 2 rows, but folds.csv gives fold 0 3 rows; advice$"):
        artefacts.read_probs(probs, 3, 2, "advice", "folds.csv gives fold 0 {} rows")


def test_pseudo_label_targets_are_checked_against_the_test_images(tmp_path):
    from comp.runs import teacher_file

    path = tmp_path / "teacher.npz"
    good = {"pseudo_index": np.array([0, 4]), "pseudo": np.array([[1, 0], [0.2, 0.8]], np.float32),
            "pseudo_weight": np.float32(0.5)}
    np.savez(path, **good)
    read = teacher_file.read_targets(path, 6, 2, distill=False, pseudo=True, n_test=5, advice="advice")
    assert read["pseudo_index"].tolist() == [0, 4] and float(read["pseudo_weight"]) == 0.5
    with pytest.raises(CompError, match=r"teacher.npz: pseudo_index holds test row 4, but the competition has 4 "
                                        r"test images"):
        teacher_file.read_targets(path, 6, 2, distill=False, pseudo=True, n_test=4, advice="advice")
    with pytest.raises(CompError, match=r"teacher.npz: train is missing"):
        teacher_file.read_targets(path, 6, 2, distill=True, pseudo=True, n_test=5, advice="advice")
    np.savez(path, **{**good, "pseudo_weight": np.float32(np.nan)})
    with pytest.raises(CompError, match=r"teacher.npz: pseudo_weight must be a finite number"):
        teacher_file.read_targets(path, 6, 2, distill=False, pseudo=True, n_test=5, advice="advice")
