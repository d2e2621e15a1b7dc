"""Submission files: the ``id,target`` CSV, its validation against ``sample_submission.csv``,
the JSON manifest, and the rule guard.

Both files are read with every column as a string, so an id like ``00042`` is compared
byte for byte (a lost leading zero is an error, not a match).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from comp.atomic import write_json, write_text
from comp.data.layouts import read_csv_str
from comp.errors import CompError
from comp.spec import Competition

SUBMISSIONS_DIR = Path("submissions")


def check_rules(comp: Competition, runs) -> dict:
    """Refuse runs that broke the competition's rules; return the check for the manifest."""
    for run in runs:
        info = run.config["run"]
        if info.get("pretrained") and not comp.rules.pretrained_weights:
            raise CompError(f"run '{run.id}' used pretrained weights, which {comp.name}'s rules forbid "
                            f"([rules] pretrained_weights = false); transfer runs are for offline comparison only")
        if info.get("external_data") and not comp.rules.external_data:
            raise CompError(f"run '{run.id}' used external data, which {comp.name}'s rules forbid "
                            f"([rules] external_data = false)")
    return {"pretrained_weights_allowed": comp.rules.pretrained_weights,
            "external_data_allowed": comp.rules.external_data,
            "runs_used_pretrained": any(r.config["run"].get("pretrained") for r in runs),
            "runs_used_external_data": any(r.config["run"].get("external_data") for r in runs),
            "passed": True}


def make_frame(comp: Competition, ids: list[str], probs: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """The submission table: one row per test id, the predicted class as name or index."""
    pred = probs.argmax(1)
    targets = [class_names[i] for i in pred] if comp.submission.target_format == "name" else [str(i) for i in pred]
    return pd.DataFrame({comp.submission.id_column: list(ids), comp.submission.target_column: targets})


def validate_frame(frame: pd.DataFrame, comp: Competition, class_names: list[str] | None,
                   where: str, test_ids: list[str] | None = None) -> None:
    """Check a submission against the sample submission (or the test ids where there is none)."""
    id_col, target_col = comp.submission.id_column, comp.submission.target_column
    if list(frame.columns) != [id_col, target_col]:
        raise CompError(f"{where}: columns must be [{id_col}, {target_col}]. Received: {list(frame.columns)}")
    sample_path = comp.path("sample_submission")
    if sample_path is not None:
        sample = read_csv_str(sample_path)
        if list(sample.columns) != [id_col, target_col]:
            raise CompError(f"{sample_path}: columns {list(sample.columns)} differ from the spec's "
                            f"[{id_col}, {target_col}] (submission.id_column, submission.target_column)")
        expected, source = list(sample[id_col]), str(sample_path)
    elif test_ids is not None:
        expected, source = list(test_ids), "the test list"
    else:
        expected, source = None, ""
    got = list(frame[id_col])
    if expected is not None:
        if len(got) != len(expected):
            raise CompError(f"{where}: {len(got)} rows, but {source} has {len(expected)}")
        if got != expected:
            if set(got) == set(expected):
                first = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
                raise CompError(f"{where}: ids are not in the order of {source} "
                                f"(row {first + 2}: '{got[first]}', expected '{expected[first]}')")
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            detail = f"id '{extra[0]}' is not in {source}" if extra else f"id '{missing[0]}' is missing"
            raise CompError(f"{where}: ids differ from {source}: {detail}")
    dup = frame[id_col][frame[id_col].duplicated()]
    if len(dup):
        raise CompError(f"{where}: duplicate id '{dup.iloc[0]}'")
    targets = frame[target_col]
    if (targets == "").any():
        raise CompError(f"{where}: empty target for id '{frame[id_col][targets == ''].iloc[0]}'")
    if class_names is not None:
        allowed = class_names if comp.submission.target_format == "name" else [str(i) for i in range(len(class_names))]
        bad = targets[~targets.isin(allowed)]
        if len(bad):
            kind = "class name" if comp.submission.target_format == "name" else "class index"
            shown = ", ".join(allowed[:10]) + (" ..." if len(allowed) > 10 else "")
            raise CompError(f"{where}: target '{bad.iloc[0]}' (id '{frame[id_col][bad.index[0]]}') is not a "
                            f"valid {kind}; allowed: {shown}")


def validate_csv(path: Path, comp: Competition, class_names: list[str] | None, test_ids=None) -> pd.DataFrame:
    frame = read_csv_str(path)
    validate_frame(frame, comp, class_names, str(path), test_ids)
    return frame


def write_submission(frame: pd.DataFrame, path: Path, manifest: dict) -> Path:
    """Write the CSV and its manifest (with the CSV's sha256), each atomically."""
    text = frame.to_csv(index=False)
    write_text(path, text)
    manifest = {**manifest, "csv": str(path), "rows": int(len(frame)),
                "sha256": hashlib.sha256(text.encode()).hexdigest()}
    write_json(path.with_suffix(".json"), manifest)
    return path


def default_path(comp: Competition, run_ids: list[str]) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = run_ids[0] if len(run_ids) == 1 else f"blend{len(run_ids)}"
    return SUBMISSIONS_DIR / f"{comp.name}-{name}-{stamp}.csv"


def score_csv(csv: Path, answers: Path, comp: Competition) -> float:
    """The competition's metric (accuracy or macro F1 on the predicted labels) against an answers CSV."""
    from sklearn.metrics import accuracy_score, f1_score

    id_col, target_col = comp.submission.id_column, comp.submission.target_column
    sub = read_csv_str(csv)
    truth = read_csv_str(answers)
    for frame, where in ((sub, csv), (truth, answers)):
        if id_col not in frame.columns or target_col not in frame.columns:
            raise CompError(f"{where}: needs the columns {id_col},{target_col}. Received: {list(frame.columns)}")
    merged = truth.merge(sub, on=id_col, how="left", suffixes=("_true", "_pred"))
    missing = merged[f"{target_col}_pred"].isna()
    if missing.any():
        raise CompError(f"{csv}: no prediction for id '{merged[id_col][missing].iloc[0]}' of {answers}")
    y_true, y_pred = merged[f"{target_col}_true"], merged[f"{target_col}_pred"]
    if comp.metric == "macro_f1":
        return float(f1_score(y_true, y_pred, average="macro"))
    if comp.metric == "log_loss":
        raise CompError("log_loss needs probabilities; an id,target CSV holds labels only")
    return float(accuracy_score(y_true, y_pred))


def manifests_for_run(run_id: str, competition: str) -> list[dict]:
    out = []
    for path in sorted(SUBMISSIONS_DIR.glob(f"{competition}-*.json")):
        try:
            m = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if run_id in [r["run"] for r in m.get("runs", [])]:
            out.append(m)
    return out
