"""A run's files read back checked, one loader per kind (config.toml's: comp.runs.config): classes.json,
folds.csv and the summary metrics.json (read_classes, read_folds, read_summary), a fold's metrics.json,
history.csv, oof.npy and test.npy (read_fold_metrics, read_history, read_probs); a student's teacher.npz
(comp.runs.teacher_file), the fitted decisions.json (comp.runs.decided). A person, or a crash, may have changed any of them: each loader checks that the file is
there and parses, its keys or columns, their types and ranges, and raises CompError in one line: the
file, the field, what was found, and ``advice``, what to do, from the caller (which knows the command
that repairs the file: :func:`restart_advice`, :func:`retrain_fold_advice`...).
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from comp.targets.kinds import unfit_labels
from comp.errors import CompError

TOLERANCE = 1e-3  # how far a row of probabilities may sum from 1 (and a value stray outside [0, 1])
NPY_HEADER, NPZ_HEADER = b"\x93NUMPY", b"PK"  # .npz: a zip archive
HISTORY_COLUMNS = ("epoch", "loss", "val_loss")
OPTIONAL_HISTORY = ("accuracy", "val_accuracy", "seconds")  # accuracy: where one class per row

# a key's rule: (kind, lowest, highest); kind float: a finite number, int: an integer, str: non-empty text
TEXT, NUMBER, SECONDS, SHARE = (str, None, None), (float, None, None), (float, 0, None), (float, 0, 1)
COUNT, SOME = (int, 0, None), (int, 1, None)
FOLD_FIELDS = {
    "score": NUMBER, "accuracy": SHARE, "log_loss": SECONDS, "metric": TEXT, "tta": TEXT, "tta_share": SHARE,
    "crop": SHARE, "monitor": TEXT, "seconds": SECONDS, "epoch_seconds": SECONDS, "epochs": SOME, "best_epoch": SOME,
    "n_train": SOME, "n_pseudo": COUNT, "n_val": SOME, "params": COUNT, "test_key": TEXT, "time_budget_s": SECONDS,
    "planned_epochs": COUNT, "budget_used_s": SECONDS,
}
# what every trained fold's metrics.json holds (accuracy and log_loss: where one class per row)
FOLD_KEYS = ("score", "metric", "tta", "seconds", "epoch_seconds", "epochs", "best_epoch", "n_train", "n_val", "params")
SUMMARY_FIELDS = {
    "run": TEXT, "competition": TEXT, "recipe": TEXT, "metric": TEXT, "tta": TEXT, "folds": SOME,
    "finished_folds": COUNT, "oof_score": NUMBER, "oof_accuracy": SHARE, "oof_log_loss": SECONDS, "oof_rows": SOME,
    "seconds": SECONDS, "params": COUNT, "time_budget_s": SECONDS, "budget_used_s": SECONDS,
}
SUMMARY_KEYS = ("oof_score", "folds", "finished_folds")
SUMMARY_ADVICE = "comp train of the run writes it again (its finished folds are not trained again)"


def restart_advice(run_dir: Path) -> str:  # classes.json, folds.csv: the run starts over
    return (f"the run's folds and scores rest on it: train the run again from the start "
            f"(comp train -c {run_dir.parent.name} --run {run_dir.name} --restart, with its other options)")


def retrain_fold_advice(fold_dir: Path) -> str:  # a fold's file: the fold is trained again
    run_dir, k = fold_dir.parent, fold_dir.name.removeprefix("fold-")
    return (f"delete {fold_dir} and train the fold again (comp train -c {run_dir.parent.name} --run {run_dir.name} "
            f"--fold {k}, with the run's other options)")


HISTORY_ADVICE = "delete it (the learning curves then leave the fold out), or train the fold again"
TEST_ADVICE = "delete it: comp predict then predicts the test images again with the fold's model"


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 3] + "..."


def _reason(e: BaseException) -> str:
    if isinstance(e, UnicodeDecodeError):
        return "not UTF-8 text"
    return _clip((e.strerror if isinstance(e, OSError) and e.strerror else str(e)).replace("\n", " "), 100)


def _fits(value, kind, low, high) -> bool:
    if kind is str:
        return isinstance(value, str) and value != ""
    if isinstance(value, bool) or not isinstance(value, int if kind is int else (int, float)):
        return False
    return math.isfinite(value) and (low is None or value >= low) and (high is None or value <= high)


def _rule(kind, low, high) -> str:  # a rule with a highest value has a lowest one
    text = {float: "a finite number", int: "an integer", str: "a non-empty string"}[kind]
    return (f"{text} from {low} to {high}" if high is not None else f"{text} of at least {low}" if low is not None
            else text)


def _bad(where: str, key: str, rule: str, value, advice: str) -> CompError:
    return CompError(f"{where}: {key} must be {rule}. Received: {key}={_clip(repr(value), 60)}; {advice}")


def check_fields(data: dict, rules: dict, required, where: str, advice: str, prefix: str = "") -> None:
    """Every ``required`` key is there; every key of ``rules`` that is there keeps its rule."""
    for key in required:
        if key not in data:
            raise CompError(f"{where}: {prefix}{key} is missing; {advice}")
    for key, (kind, low, high) in rules.items():
        if key in data and not _fits(data[key], kind, low, high):
            raise _bad(where, prefix + key, _rule(kind, low, high), data[key], advice)


def _opened(path: Path, advice: str, read):  # read(path); a missing or unreadable file in one line
    try:
        return read(path)
    except FileNotFoundError:
        raise CompError(f"{path}: missing; {advice}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CompError(f"{path}: cannot be read ({_reason(e)}); {advice}") from None


def _read_json(path: Path, advice: str) -> dict:
    text = _opened(path, advice, lambda p: p.read_text(encoding="utf-8"))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CompError(f"{path}: not valid JSON ({e.msg}, line {e.lineno} column {e.colno}); {advice}") from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(type(data))
        raise CompError(f"{path}: must hold a JSON object of keys and values. Received: {kind or 'a number'}; {advice}")
    return data


def _read_csv(path: Path, advice: str, columns, **options) -> pd.DataFrame:
    try:
        table = _opened(path, advice, lambda p: pd.read_csv(p, **options))
    except CompError:  # missing, or not text
        raise
    except pd.errors.EmptyDataError:
        raise CompError(f"{path}: empty (not even a header); {advice}") from None
    except ValueError as e:
        raise CompError(f"{path}: not a readable CSV ({_reason(e)}); {advice}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise CompError(f"{path}: no column '{missing[0]}' (its columns: {', '.join(map(str, table.columns[:8]))}); "
                        f"{advice}")
    if table.empty:
        raise CompError(f"{path}: no rows; {advice}")
    return table


def _check_rows(path: Path, bad, key: str, rule: str, values, advice: str) -> None:  # the first bad row
    if np.asarray(bad).any():
        i = int(np.flatnonzero(np.asarray(bad))[0])
        value = values[i]
        raise _bad(f"{path}: row {i + 1}", key, rule, value.item() if hasattr(value, "item") else value, advice)


def read_classes(path: Path, advice: str, minimum: int = 2) -> list[str]:
    """classes.json: the run's class names, in the order of its probabilities' columns (a
    regression's one column: ``minimum`` 1)."""
    data = _read_json(path, advice)
    check_fields(data, {}, ("classes",), str(path), advice)
    names = data["classes"]
    if not (isinstance(names, list) and len(names) >= minimum and all(isinstance(n, str) and n for n in names)
            and len(set(names)) == len(names)):
        raise _bad(str(path), "classes", f"a list of at least {minimum} unique, non-empty class names", names, advice)
    return names


def read_folds(path: Path, classes: list[str], n_folds: int, advice: str, kind: str = "class",
               separator: str = " ") -> pd.DataFrame:
    """folds.csv: each training row's id, label and validation fold (-1, none, in a one-fold run)."""
    table = _read_csv(path, advice, ("id", "label", "fold"), dtype=str, keep_default_na=False).fillna("")
    ids, labels, folds = table["id"], table["label"], table["fold"]
    _check_rows(path, (ids == "") | ids.duplicated(), "id", "a non-empty id, once in the file", ids, advice)
    bad, wanted = unfit_labels(labels, classes, kind, separator)
    _check_rows(path, bad, "label", wanted, labels, advice)
    low = -1 if n_folds == 1 else 0
    number = pd.to_numeric(folds.where(folds.str.fullmatch(r"-?\d+"), ""), errors="coerce")
    _check_rows(path, number.isna() | (number < low) | (number >= n_folds), "fold",
                f"an integer from {low} to {n_folds - 1}", folds, advice)
    number = number.astype(np.int64)
    empty = [k for k in range(n_folds) if not (number == k).any()]
    if empty:
        raise CompError(f"{path}: fold {empty[0]} has no rows (the run has {n_folds} folds); {advice}")
    return pd.DataFrame({"id": ids, "label": labels, "fold": number})


def read_summary(path: Path, n_folds: int, advice: str = SUMMARY_ADVICE) -> dict | None:
    """The run's metrics.json (:func:`comp.train.kfold.summarise_run`); None where there is none."""
    if not path.is_file():
        return None
    data, where = _read_json(path, advice), str(path)
    check_fields(data, {**SUMMARY_FIELDS, "finished_folds": (int, 0, n_folds)}, SUMMARY_KEYS, where, advice)
    if data["folds"] != n_folds:
        raise _bad(where, "folds", f"the run's {n_folds} folds (its config.toml)", data["folds"], advice)
    per_fold = data.get("per_fold", [])
    if not isinstance(per_fold, list) or not all(isinstance(f, dict) for f in per_fold):
        raise _bad(where, "per_fold", "a list of the folds' metrics", per_fold, advice)
    for i, fold in enumerate(per_fold):
        check_fields(fold, {**FOLD_FIELDS, "fold": (int, 0, n_folds - 1)}, ("fold",), where, advice, f"per_fold[{i}].")
    f1 = data.get("per_class_f1", {})
    if not (isinstance(f1, dict) and all(_fits(v, float, 0, 1) for v in f1.values())):
        raise _bad(where, "per_class_f1", "a table of class names and F1 scores from 0 to 1", f1, advice)
    return data


def read_fold_metrics(path: Path, advice: str, keys=FOLD_KEYS) -> dict:
    """A finished fold's metrics.json; ``keys``: those it must hold (each key there is checked)."""
    data, where = _read_json(path, advice), str(path)
    check_fields(data, FOLD_FIELDS, keys, where, advice)
    if "best_epoch" in data and "epochs" in data and data["best_epoch"] > data["epochs"]:
        raise _bad(where, "best_epoch", f"at most epochs ({data['epochs']})", data["best_epoch"], advice)
    f1 = data.get("per_class_f1", [])
    if not (isinstance(f1, list) and all(_fits(v, float, 0, 1) for v in f1)):
        raise _bad(where, "per_class_f1", "a list of F1 scores from 0 to 1", f1, advice)
    return data


def read_history(path: Path, advice: str, epochs: int | None = None) -> pd.DataFrame:
    """A fold's history.csv: a row per epoch, finite numbers; ``epochs``: the rows a finished fold has."""
    table = _read_csv(path, advice, HISTORY_COLUMNS)
    for column in [c for c in (*HISTORY_COLUMNS, *OPTIONAL_HISTORY) if c in table.columns]:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(np.float64)
        low = np.nan_to_num(values, nan=-1) < 0 if column in ("epoch", "seconds") else ~np.isfinite(values)
        whole = np.isfinite(values) & (values == np.round(values)) if column == "epoch" else np.isfinite(values)
        rule = {"epoch": "an integer of at least 0", "seconds": "a finite number of at least 0"}.get(column)
        _check_rows(path, low | ~whole, column, rule or "a finite number", table[column], advice)
    epoch = table["epoch"].to_numpy(np.float64)
    if (np.diff(epoch) <= 0).any():
        raise _bad(str(path), "epoch", "rising row by row", epoch.astype(np.int64).tolist(), advice)
    if epochs is not None and len(table) != epochs:
        raise CompError(f"{path}: {len(table)} epochs, but the fold's metrics.json counts {epochs}; {advice}")
    return table


def check_probs(array: np.ndarray, where: str, rows: int | None, classes: int, advice: str,
                rows_what: str = "{} are expected", summed: bool = True) -> np.ndarray:
    """Probabilities of ``rows`` rows (None: any; ``rows_what`` says whose count) and ``classes``
    columns; ``summed``: each row sums to 1 (a softmax's; a sigmoid head's columns need not)."""
    if array.dtype.kind != "f":
        raise CompError(f"{where}: must hold probabilities (floating-point numbers). Received: dtype {array.dtype}; "
                        f"{advice}")
    if array.ndim != 2 or array.shape[1] != classes:
        raise CompError(f"{where}: shape {array.shape}, but the run has {classes} classes: probabilities of shape "
                        f"(rows, {classes}) are expected; {advice}")
    if rows is not None and len(array) != rows:
        raise CompError(f"{where}: {len(array)} rows, but {rows_what.format(rows)}; {advice}")
    outside = ~np.isfinite(array) | (array < -TOLERANCE) | (array > 1 + TOLERANCE)
    if outside.any():
        i = int(np.flatnonzero(outside.any(axis=1))[0])
        raise CompError(f"{where}: row {i + 1} holds {array[i][outside[i]][0]:.4g}, not a probability from 0 to 1; "
                        f"{advice}")
    sums = array.sum(axis=1, dtype=np.float64)
    if summed and (np.abs(sums - 1) > TOLERANCE).any():
        i = int(np.flatnonzero(np.abs(sums - 1) > TOLERANCE)[0])
        raise CompError(f"{where}: row {i + 1} sums to {sums[i]:.4g}, not 1 (not probabilities); {advice}")
    return array


def _load_numpy(path: Path, advice: str, header: bytes, kind: str):
    if _opened(path, advice, lambda p: p.read_bytes()[:len(header)]) != header:
        raise CompError(f"{path}: not a NumPy {kind} file (it lacks the {kind} header); {advice}")
    try:
        if kind == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as saved:
            return {k: saved[k] for k in saved.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise CompError(f"{path}: truncated or damaged ({_reason(e)}); {advice}") from None


def read_probs(path: Path, rows: int | None, classes: int, advice: str,
               rows_what: str = "{} are expected", summed: bool = True) -> np.ndarray:
    """A fold's oof.npy or test.npy, checked by :func:`check_probs`."""
    return check_probs(_load_numpy(path, advice, NPY_HEADER, ".npy"), str(path), rows, classes, advice, rows_what,
                       summed)
