"""What an exported kernel runs, offline, with comp imported from the export's ``lib/`` folder.

It reads the export (``export.json``, :mod:`comp.export.bundle`), the competition's files where
Kaggle mounts them, predicts the test images with every fold model of every run (their TTA level
and selective-TTA share), blends the runs with the export's weights, applies the decisions fitted
out of fold, and writes the CSV that ``comp predict --ensemble`` writes for the same runs,
validated against the sample submission. It needs TensorFlow/Keras, numpy, pandas, Pillow,
scikit-learn and scipy (Kaggle's images have them), never the network.

Before predicting it says what differs between this machine's library versions and the
export's (Kaggle updates its images; a model saved by Keras 3 loads in later Keras 3 releases,
and a difference is said, not refused), and how long it expects to take.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np

from comp.errors import CompError

EXPORT_FILE = "export.json"
FORMAT = 1


def read_export(dataset_dir: Path) -> dict:
    """The export's ``export.json``, checked for what the kernel reads."""
    path = Path(dataset_dir) / EXPORT_FILE
    try:
        export = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompError(f"{path}: not found: the export's dataset folder holds it (comp export writes it)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CompError(f"{path}: not a readable export ({e}); run comp export again") from None
    missing = [k for k in ("format", "competition", "runs", "decisions", "versions") if k not in export]
    if missing or export.get("format") != FORMAT or not export.get("runs"):
        raise CompError(f"{path}: not an export of format {FORMAT} (missing: {', '.join(missing) or 'runs'}); "
                        f"run comp export again")
    for run in export["runs"]:
        for model in run["models"]:
            if not (Path(dataset_dir) / model).is_file():
                raise CompError(f"{Path(dataset_dir) / model}: model file missing from the export")
    return export


def installed_versions() -> dict:
    """The versions of the libraries an exported model and its prediction depend on."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("tensorflow", "keras", "numpy", "pandas", "pillow", "scikit-learn", "scipy", "albumentations"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def version_drift(exported: dict, here: dict) -> list[str]:
    """One line per library whose version here differs from the export's."""
    return [f"{name}: exported with {exported[name]}, running with {here.get(name, 'absent')}"
            for name in sorted(exported) if here.get(name) != exported[name]]


def competition_of(export: dict, competition_dir: Path):
    """The export's competition spec, reading its files from ``competition_dir``."""
    from comp.config.spec import competition_from_dict

    table = copy.deepcopy(export["competition"])
    table["data"]["root"] = str(competition_dir)
    for key in ("builder", "answers", "archives"):  # nothing built, scored or unpacked in a read-only input
        table["data"].pop(key, None)
    return competition_from_dict(table, f"{EXPORT_FILE} [competition]")


def run_probs(dataset_dir: Path, run: dict, images, kind: str, say) -> np.ndarray:
    """The mean of one run's fold models' test probabilities, at the run's TTA level and share."""
    from comp.predict.probs import load_model, predict_proba
    from comp.targets.kinds import head

    probs = []
    for i, model_path in enumerate(run["models"], 1):
        started = time.perf_counter()
        model = load_model(Path(dataset_dir) / model_path)
        probs.append(predict_proba(model, images, run["tta"], run["batch_size"], run["crop"], run["tta_share"],
                                   head(kind)))
        say(f"run {run['id']}: model {i}/{len(run['models'])} done in {time.perf_counter() - started:.1f}s")
    return np.mean(probs, axis=0)


def expected_seconds(export: dict, n_images: int) -> float | None:
    """The prediction time the export measured, scaled to ``n_images`` test images."""
    timing = export.get("timing") or {}
    per_image = timing.get("seconds_per_image")
    return None if per_image is None else per_image * n_images


def predict_export(dataset_dir: Path, competition_dir: Path, out: Path, say=print) -> Path:
    """Predict the competition's test images with the export and write the submission CSV at ``out``."""
    from comp.data.images import load_images
    from comp.data.layouts import read_dataset
    from comp.files.atomic import write_text
    from comp.submit.frames import csv_text, make_frame
    from comp.submit.submission import sample_frame, validate_frame
    from comp.export.timing import duration
    from comp.targets.kinds import decode_regression

    export = read_export(dataset_dir)
    for line in version_drift(export["versions"], installed_versions()):
        say(f"version drift: {line}")
    competition = competition_of(export, competition_dir)
    dataset = read_dataset(competition)
    names = export["runs"][0]["class_names"]
    if dataset.class_names != names:
        raise CompError(f"{competition_dir}: its classes {dataset.class_names[:5]}... differ from the export's "
                        f"{names[:5]}...; predictions would be mislabelled")
    expected = expected_seconds(export, len(dataset.test))
    say(f"{len(dataset.test)} test images, {sum(len(r['models']) for r in export['runs'])} model(s)"
        + (f"; expected about {duration(expected)} (as measured by comp export)" if expected else ""))
    images = load_images(list(dataset.test["path"]), tuple(competition.data.image_size), None, "test")
    kind = competition.target.kind
    probs = sum(run["weight"] * run_probs(dataset_dir, run, images, kind, say) for run in export["runs"])
    scale = export.get("regression_scale")
    preds = decode_regression(probs, tuple(scale))[:, None] if kind == "regression" else probs
    test_ids = list(dataset.test["id"])
    frame = make_frame(competition, test_ids, preds, names, export["decisions"], sample_frame(competition))
    validate_frame(frame, competition, names, str(out), test_ids)
    write_text(out, csv_text(frame))
    say(f"wrote {out} ({len(frame)} rows; validated against {competition.path('sample_submission') or 'the test list'})")
    return out


def run_kernel(dataset_dir: Path, competition_dir: Path, out: Path) -> int:
    """The kernel's entry point: predict, or one ``error:`` line and exit status 2."""
    import sys

    started = time.perf_counter()
    try:
        predict_export(Path(dataset_dir), Path(competition_dir), Path(out), lambda m: print(m, flush=True))
    except CompError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    from comp.export.timing import duration

    print(f"done in {duration(time.perf_counter() - started)}", flush=True)
    return 0
