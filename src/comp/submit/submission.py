"""Submissions: the rule guard, the ``id,target`` CSV, its validation against
``sample_submission.csv``, the JSON manifest, and the score where the answers are known.

:func:`make_submission` is everything ``comp predict`` does, checks first: a run the rules
forbid never gets near a CSV, and a CSV is written (atomically, with its manifest) only
after it validated.

Both files are read with every column as a string, so an id like ``00042`` is compared
byte for byte (a lost leading zero is an error, not a match).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from comp import __version__
from comp.files.atomic import sweep_temporary, write_text
from comp.data.layouts import check_unique, read_csv_str
from comp.errors import CompError
from comp.config.spec import Competition
from comp.submit.scoring import score_csv  # noqa: F401  (comp score, and callers of this module)
from comp.submit.frames import check_columns, check_targets, csv_text, make_frame  # noqa: F401  (make_frame: callers)
from comp.submit.manifest import (BEST_FOLD, MEAN_OF_FOLDS, Blend, Manifest, RuleCheck, RunRecord, check_csv_suffix,
                                  manifest_path)

SUBMISSIONS_DIR = Path("submissions")


def check_rules(competition: Competition, runs) -> dict:
    """Refuse runs that broke the competition's rules; return the check for the manifest.

    Pretrained weights (``model.weights``, or a teacher's) are the one source from outside the
    competition's files that a run can use; ``[rules] external_data`` is recorded, since no run
    can use other data. A run trained on test images (pseudo-labels: ``comp train
    --pseudo-label``, or a teacher that was) needs ``[rules] test_data_training = true``.
    """
    rules = competition.rules
    for run in runs:
        if run.pretrained and not rules.pretrained_weights:
            raise CompError(f"run '{run.id}' used pretrained weights, which {competition.name}'s rules forbid "
                            f"([rules] pretrained_weights = false); transfer runs are for offline comparison only")
        if run.test_data and not rules.test_data_training:
            raise CompError(f"run '{run.id}' trained on the test images (pseudo-labels), which {competition.name}'s "
                            f"rules forbid ([rules] test_data_training = false); it is for offline comparison only")
    return {"pretrained_weights_allowed": rules.pretrained_weights,
            "external_data_allowed": rules.external_data,
            "test_data_training_allowed": rules.test_data_training,
            "runs_used_pretrained": any(r.pretrained for r in runs),
            "runs_used_test_data": any(r.test_data for r in runs),
            "passed": True}


def sample_frame(competition: Competition) -> pd.DataFrame | None:
    """The sample submission (every column a string), or None where the spec names none."""
    path = competition.path("sample_submission")
    return None if path is None else read_csv_str(path)


def validate_frame(frame: pd.DataFrame, competition: Competition, class_names: list[str] | None,
                   where: str, test_ids: list[str] | None = None) -> None:
    """Check a submission against the sample submission (or the test ids where there is none):
    its columns, its ids in order, and each target as the kind writes it (:mod:`comp.submit.frames`)."""
    id_col = competition.submission.id_column
    sample = sample_frame(competition)
    columns = check_columns(frame, competition, class_names, sample, where)
    if sample is not None:
        expected, source = list(sample[id_col]), str(competition.path("sample_submission"))
    elif test_ids is not None:
        expected, source = list(test_ids), "the test list"
    else:
        expected, source = None, ""
    got = list(frame[id_col])
    if expected is not None:
        _check_ids(got, expected, source, where)
    dup = frame[id_col][frame[id_col].duplicated()]
    if len(dup):
        raise CompError(f"{where}: duplicate id '{dup.iloc[0]}'")
    check_targets(frame, competition, class_names, columns, where)


def _check_ids(got: list[str], expected: list[str], source: str, where: str) -> None:
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


def validate_csv(path: Path, competition: Competition, class_names: list[str] | None, test_ids=None) -> pd.DataFrame:
    frame = read_csv_str(path)
    validate_frame(frame, competition, class_names, str(path), test_ids)
    return frame


def write_submission(frame: pd.DataFrame, path: Path, manifest: Manifest) -> Manifest:
    """Write the CSV and its manifest (with the CSV's path, rows and sha256), each atomically;
    returns the manifest written. Both are checked before either file is written."""
    path = check_csv_suffix(path)
    text = csv_text(frame)
    manifest = replace(manifest, csv=str(path), rows=int(len(frame)), sha256=hashlib.sha256(text.encode()).hexdigest())
    Manifest.from_dict(manifest.to_dict(), f"the manifest for {manifest_path(path)}")  # no CSV without its manifest
    if path.parent.is_dir():
        sweep_temporary(path.parent)  # what killed writes of earlier submissions left
    write_text(path, text)
    manifest.write(path)
    return manifest


def default_path(competition: Competition, run_ids: list[str]) -> Path:
    """``submissions/<competition>-<run>-<stamp>.csv``, with ``-2``, ``-3``... where that CSV or
    its manifest already exists (two submissions in one second)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = run_ids[0] if len(run_ids) == 1 else f"blend{len(run_ids)}"
    base, n = f"{competition.name}-{name}-{stamp}", 1
    while True:
        path = SUBMISSIONS_DIR / (f"{base}.csv" if n == 1 else f"{base}-{n}.csv")
        if not any(p.exists() or p.is_symlink() for p in (path, path.with_suffix(".json"))):
            return path
        n += 1


def check_out_path(competition: Competition, out: Path, force: bool = False, whole_root: bool = True) -> Path:
    """Refuse a submission path (``--out``) before any work: not ``.csv``; the competition's data
    (any file under its root with ``whole_root``, and its named files and folders wherever they
    are); or, without ``force``, an existing file (the CSV or its ``.json`` manifest)."""
    out = check_csv_suffix(out, f"--out {out}")
    if out.is_dir():
        raise CompError(f"--out {out}: is a folder; give a file name ending in .csv")
    keys = ("sample_submission", "answers", "labels", "train", "test", "images", "classes", "train_list", "test_list")
    protected = [(f"data.{key}", competition.path(key)) for key in keys if competition.path(key) is not None]
    protected += [("the data folder", competition.root)] if whole_root else []
    for target in (out, out.with_suffix(".json")):
        resolved = target.resolve()
        for what, p in protected:
            if resolved == p.resolve() or p.resolve() in resolved.parents:
                raise CompError(f"--out {out}: {target} is part of the competition's data ({what} = {p}); "
                                f"write the submission outside it (e.g. in {SUBMISSIONS_DIR}/)")
    if not force:
        for target in (out, out.with_suffix(".json")):
            if target.exists() or target.is_symlink():
                raise CompError(f"--out {out}: {target} already exists; pass --force to replace it")
    return out


def manifests_for_run(run_id: str, competition: str, say=lambda msg: None) -> list[Manifest]:
    """The manifests of the competition's submissions (in submissions/) that name the run. A damaged
    one is skipped with a warning line through ``say``: one bad file does not hide the others."""
    out = []
    for path in sorted(SUBMISSIONS_DIR.glob(f"{competition}-*.json")):
        try:
            manifest = Manifest.read(path.with_suffix(".csv"))
        except CompError as e:
            say(f"warning: a damaged submission manifest is skipped: {e}")
            continue
        if run_id in manifest.run_ids:
            out.append(manifest)
    return out


# --------------------------------------------------------------------------- comp predict


def check_runs_can_submit(runs, dataset, ensemble: bool, allow_partial: bool) -> None:
    """Every run has finished folds (all of them for --ensemble) and the data's class map."""
    for run in runs:
        finished = run.finished_folds()
        if not finished:
            raise CompError(f"run '{run.id}' has no finished folds; train it first")
        if ensemble and len(finished) < run.n_folds and not allow_partial:
            raise CompError(f"run '{run.id}' has {len(finished)} of {run.n_folds} folds finished; "
                            f"--ensemble needs all of them (finish training, or pass --allow-partial)")
        if run.class_names != dataset.class_names:
            raise CompError(f"run '{run.id}': its class map {run.class_names[:5]}... differs from the "
                            f"data's {dataset.class_names[:5]}...; predictions would be mislabelled")


def run_weights(runs, weights: str, metric: str, say):
    """(weights, fitted blend or None): equal, or fitted on the runs' out-of-fold predictions."""
    if weights not in ("equal", "oof"):
        raise CompError(f"weights must be 'equal' or 'oof'. Received: weights={weights!r}")
    if weights == "equal":
        return [1.0 / len(runs)] * len(runs), None
    from comp.predict.blend import fit_oof_blend

    blended = fit_oof_blend(runs, metric)
    for line in blended.lines():
        say(line)
    return blended.weights, blended


def make_submission(competition: Competition, run_ids: list[str], ensemble: bool, tta: bool,
                    tta_level: str | None, allow_partial: bool, out: Path | None, say,
                    weights: str = "equal", tta_share: float | None = None) -> tuple[Path, Manifest]:
    """Everything ``comp predict`` does: checks, test probabilities, CSV, manifest and score.

    ``weights``: how the runs are blended, ``equal`` or ``oof`` (fitted on their out-of-fold
    predictions by :mod:`comp.predict.blend`, before any test prediction is made). ``tta_share``:
    selective TTA's share (``--tta-share``; None: the first run's ``predict.tta_share``).
    """
    from comp.predict import probs as predict
    from comp.data.demo import ensure_data
    from comp.data.images import load_competition_images, test_key
    from comp.data.layouts import read_dataset
    from comp.runs.listing import latest_run
    from comp.runs.run import open_run

    runs = [open_run(competition.name, r) for r in run_ids] or [latest_run(competition.name)]
    rule_check = check_rules(competition, runs)  # before any work
    ensure_data(competition)
    dataset = read_dataset(competition)
    check_runs_can_submit(runs, dataset, ensemble, allow_partial)
    blend_weights, blended = run_weights(runs, weights, competition.metric, say)
    level = predict.tta_level(runs, tta, tta_level)
    share = predict.tta_share(runs, level, tta_share)  # --tta-share, else the recipe's
    test_images = functools.cache(lambda: load_competition_images(competition, dataset)[1])  # read once, if at all
    probs, used = predict.ensemble_test_probs(runs, level, ensemble, blend_weights, len(dataset.test),
                                              test_images, test_key(competition, dataset), say, share)
    manifest = Manifest(
        competition=competition.name, created_by=f"comp {__version__}", runs=[RunRecord(**r) for r in used],
        ensemble=MEAN_OF_FOLDS if ensemble else BEST_FOLD, weights=[float(w) for w in blend_weights],
        weights_mode=weights, tta=level, metric=competition.metric, rule_check=RuleCheck(**rule_check),
        tta_share=share if share < 1 else None,
        blend=None if blended is None else Blend.from_dict(blended.manifest(), "the fitted blend", "blend"))
    path = out or default_path(competition, [r.id for r in runs])
    decisions = run_decisions(runs, blend_weights, competition.metric)
    return path, write_checked_submission(competition, dataset, runs[0].metric_inputs(probs), path, manifest, say,
                                          decisions)


def run_decisions(runs, weights: list[float], metric: str) -> dict:
    """The decisions (:mod:`comp.targets.decisions`) the submission applies: a run's own
    (decisions.json), or, for a blend of runs, fitted on the blend's out-of-fold predictions."""
    from comp.runs.decided import read_decisions
    from comp.targets.decisions import fit_decisions

    if len(runs) == 1:
        return read_decisions(runs[0].dir, len(runs[0].class_names))
    if not any(read_decisions(r.dir, len(r.class_names)) for r in runs):
        return {}
    from comp.predict.blend import oof_blend

    truth, preds = oof_blend(runs, weights)
    target = runs[0].competition.target
    names = runs[0].class_names
    return fit_decisions(metric, truth, preds, new_index=names.index(target.new_label)
                         if target.new_label in names else None)


def write_checked_submission(competition: Competition, dataset, preds: np.ndarray, path: Path, manifest: Manifest,
                             say, decisions: dict | None = None) -> Manifest:
    """The CSV of ``preds`` (probabilities; a regression's numbers) with ``decisions`` applied,
    validated, written with its manifest, and scored where answers are known; the manifest written."""
    check_out_path(competition, path, force=True, whole_root=False)  # comp predict checked --out already
    test_ids = list(dataset.test["id"])
    frame = make_frame(competition, test_ids, preds, dataset.class_names, decisions, sample_frame(competition))
    validate_frame(frame, competition, dataset.class_names, str(path), test_ids)
    manifest = write_submission(frame, path, manifest)
    say(f"wrote {path} ({len(frame)} rows; validated against "
        f"{competition.path('sample_submission') or 'the test list'})")
    answers = competition.path("answers")
    if answers is not None and answers.is_file():
        say(f"test {competition.metric} against {answers}: {score_csv(path, answers, competition):.4f}")
    return manifest
