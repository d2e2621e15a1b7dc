"""Run directories: layout, naming, config, listing.

::

    runs/<competition>/<run-id>/
      config.toml   resolved competition + recipe + overrides, seed, toolkit version
      classes.json  the class map (index -> name), checked at prediction time
      folds.csv     id,label,fold
      fold-<k>/     model.keras, history.csv, oof.npy, test.npy, metrics.json (written last)
      metrics.json  per-fold and out-of-fold scores, seconds, params
      plots/        curves.png, confusion.png

The default run id is the recipe name plus a hash of the resolved config, so the same
command lands in the same run (resume, skip finished folds) and a changed setting does not.
The :class:`Run` methods read its files back checked (:mod:`comp.runs.artefacts`).
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import tomli_w

import numpy as np

from comp import __version__
from comp.files.atomic import TMP_PREFIX, atomic_dir, sweep_temporary, write_json, write_text
from comp.errors import CompError
from comp.files.paths import check_name, inside
from comp.config.recipe import Recipe
from comp.config.spec import Competition
from comp.runs import artefacts
from comp.targets import kinds
from comp.config.spec import read_toml
from comp.runs.config import RunConfig, TeacherRecord, read_run_config
from comp.runs.identity import changes as config_changes
from comp.runs.identity import run_id_for

RUNS_DIR = Path("runs")


@dataclass
class Run:
    dir: Path
    config: RunConfig
    _summary_warned: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def competition(self) -> Competition:
        return self.config.competition

    @property
    def recipe(self) -> Recipe:
        return self.config.recipe

    @property
    def competition_name(self) -> str:
        return self.config.competition.name

    @property
    def recipe_name(self) -> str:
        return self.config.recipe.name

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def subset(self) -> int:
        """Training images per class the run was limited to (``--subset``); 0: all."""
        return self.config.subset

    @property
    def split_seed(self) -> int:
        """The seed of the run's folds and ``--subset`` draw: ``train.seed`` unless recorded (``--seeds``)."""
        return self.config.fold_seed

    @property
    def n_folds(self) -> int:
        return self.config.folds

    @property
    def pretrained(self) -> bool:
        return self.config.pretrained

    @property
    def test_data(self) -> bool:
        """Whether the run trained on test images (its pseudo-labels, or a teacher's)."""
        return self.config.test_data

    @property
    def teacher(self) -> TeacherRecord | None:
        return self.config.teacher

    @property
    def time_budget_s(self) -> float | None:
        return self.config.time_budget_s

    @property
    def overrides(self) -> list[str]:
        return self.config.overrides

    @property
    def created(self) -> str:
        return self.config.created

    @property
    def toolkit_version(self) -> str:
        return self.config.toolkit_version

    @property
    def model_label(self) -> str:
        """The model as tables show it: ``vgg``, or ``transfer:ResNet50V2`` (with its backbone)."""
        model = self.recipe.model
        return f"{model['name']}:{model['backbone']}" if "backbone" in model else model["name"]

    def fold_dir(self, k: int) -> Path:
        return self.dir / f"fold-{k}"

    def fold_done(self, k: int) -> bool:
        return (self.fold_dir(k) / "metrics.json").is_file()

    def finished_folds(self) -> list[int]:
        return [k for k in range(self.n_folds) if self.fold_done(k)]

    def fold_metrics(self, k: int, keys=artefacts.FOLD_KEYS) -> dict:
        """A finished fold's metrics.json, checked; ``keys``: those it must hold (default: all a fold writes)."""
        return artefacts.read_fold_metrics(self.fold_dir(k) / "metrics.json",
                                           artefacts.retrain_fold_advice(self.fold_dir(k)), keys)

    def oof(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row indices, truth, OOF predictions) of every validated row of finished folds, as a
        metric scores them (:func:`comp.targets.kinds.truth`; a regression's numbers, one column)."""
        table = self.fold_table()
        names = self.class_names
        fold_of_row = table["fold"].to_numpy()
        rows, probs = [], []
        for k in self.finished_folds():
            rows.append(np.flatnonzero(fold_of_row == k))
            probs.append(self._fold_oof(k, len(rows[-1]), len(names)))
        if not rows:
            raise CompError(f"{self.dir}: no finished folds")
        rows, target = np.concatenate(rows), self.competition.target
        truth = kinds.truth(target.kind, table["label"], names, target.separator, f"{self.dir}/folds.csv")
        return rows, truth[rows], self.metric_inputs(np.concatenate(probs), table)

    @property
    def softmax(self) -> bool:
        """Whether the run's predictions are one softmax per row (else independent sigmoid columns)."""
        return kinds.is_softmax(self.competition.target.kind)

    def metric_inputs(self, probs: np.ndarray, table: pd.DataFrame | None = None) -> np.ndarray:
        """The run's model outputs as a metric scores them (a regression's back in its units, one
        column); ``table``: its folds.csv where the caller has read it."""
        if self.competition.target.kind != "regression":
            return probs
        labels = (self.fold_table() if table is None else table)["label"]
        scale = kinds.regression_scale(labels, f"{self.dir}/folds.csv")
        return kinds.decode_regression(probs, scale)[:, None]

    def _fold_oof(self, k: int, n_rows: int, n_classes: int) -> np.ndarray:
        """Fold ``k``'s oof.npy, of its ``n_rows`` rows in folds.csv (or folds.csv changed: metrics.json agrees)."""
        path, advice = self.fold_dir(k) / "oof.npy", artefacts.retrain_fold_advice(self.fold_dir(k))
        probs = artefacts.read_probs(path, None, n_classes, advice, summed=self.softmax)
        if len(probs) != n_rows:
            if self.fold_metrics(k, keys=()).get("n_val") == len(probs):
                raise CompError(f"{self.dir / 'folds.csv'}: fold {k} has {n_rows} rows, but its oof.npy and "
                                f"metrics.json have {len(probs)}; {artefacts.restart_advice(self.dir)}")
            raise CompError(f"{path}: {len(probs)} rows, but folds.csv gives fold {k} {n_rows} rows; {advice}")
        return probs

    @property
    def class_names(self) -> list[str]:
        """classes.json, checked: the class of each column of the run's probabilities."""
        minimum = 1 if self.competition.target.kind == "regression" else 2
        return artefacts.read_classes(self.dir / "classes.json", artefacts.restart_advice(self.dir), minimum)

    def fold_table(self) -> pd.DataFrame:
        """folds.csv, checked: id, label and validation fold of every training row."""
        target = self.competition.target
        return artefacts.read_folds(self.dir / "folds.csv", self.class_names, self.n_folds,
                                    artefacts.restart_advice(self.dir), target.kind, target.separator)

    def metrics(self) -> dict | None:
        """The run's summary, checked; None: none, or damaged (a warning, once): it is worked out from the folds."""
        try:
            return artefacts.read_summary(self.dir / "metrics.json", self.n_folds)
        except CompError as e:
            if not self._summary_warned:
                self._summary_warned = True
                with warnings.catch_warnings():
                    warnings.simplefilter("always")  # once per Run, not once per process
                    warnings.warn(str(e), stacklevel=2)
            return None


def run_dir_of(competition: str, run_id: str) -> Path:
    """runs/<competition>/<run id>, both checked as plain names."""
    return RUNS_DIR / check_name(competition, "competition") / check_name(run_id, "--run")


def open_run(competition: str, run_id: str) -> Run:
    run_dir = run_dir_of(competition, run_id)
    cfg_path = run_dir / "config.toml"
    if not cfg_path.is_file():
        configs = [c for c in (RUNS_DIR / competition).glob("*/config.toml") if not c.parent.name.startswith(".")]
        known = [c.parent.name for c in sorted(configs, key=lambda c: c.stat().st_mtime)]  # oldest first
        hint = f" Runs of {competition}: {', '.join(known[-5:])}" if known else f" No runs of {competition} yet."
        raise CompError(f"run '{run_id}' not found in {RUNS_DIR / competition}.{hint}")
    return Run(run_dir, read_run_config(cfg_path))


def run_lock(competition: str, run_id: str) -> Path:
    """The run's lock file: beside its folder, so a --restart that deletes the folder keeps it."""
    return RUNS_DIR / check_name(competition, "competition") / f".{check_name(run_id, '--run')}.lock"


def create_run(config: RunConfig, run_id: str | None, restart: bool, class_names: list[str],
               fold_table: pd.DataFrame) -> tuple[Run, bool]:
    """The run for ``config``: (run, existed). An existing run must have the same identity.

    A new run is written whole (config.toml, classes.json, folds.csv) into a temporary folder
    and renamed into place, so a kill leaves either no run or a complete one. The caller holds
    the run's lock (:func:`run_lock`).
    """
    run_id = run_id or run_id_for(config)
    run_dir = run_dir_of(config.competition.name, run_id)
    sweep_temporary(run_dir.parent)
    if restart and run_dir.exists():
        return _restart(config, run_dir, class_names, fold_table), False
    if (run_dir / "config.toml").is_file():
        run = open_run(config.competition.name, run_id)
        changes = config_changes(run.config, config)
        if changes:
            raise CompError(f"{run_dir} already exists with a different config ({'; '.join(changes[:3])}); "
                            f"pass another --run, or --restart to start it over")
        for folder in (run_dir, run_dir / "plots", *run_dir.glob("fold-*")):
            sweep_temporary(folder)  # what writers killed in this run left
        if run.competition.data.root != config.competition.data.root:  # --data moved it
            _move_root(run, config.competition.data.root)
        return run, True
    return _write_run(config, run_dir, class_names, fold_table), False


def _write_run(config: RunConfig, run_dir: Path, class_names: list[str], fold_table: pd.DataFrame) -> Run:
    config.toolkit_version = __version__
    config.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with atomic_dir(inside(RUNS_DIR, run_dir), "the run") as tmp:
        write_text(tmp / "config.toml", tomli_w.dumps(config.to_table()))
        write_json(tmp / "classes.json", {"classes": list(class_names)})
        write_text(tmp / "folds.csv", fold_table.to_csv(index=False))
    return Run(run_dir, config)


def _restart(config: RunConfig, run_dir: Path, class_names: list[str], fold_table: pd.DataFrame) -> Run:
    """``--restart``: the old run is set aside under a temporary name (swept if this process dies),
    the new one written, and only then the old one deleted; a failure puts the old one back."""
    aside = run_dir.parent / f"{TMP_PREFIX}{os.getpid()}-restart-{run_dir.name}"
    os.rename(inside(RUNS_DIR, run_dir), aside)
    try:
        run = _write_run(config, run_dir, class_names, fold_table)
    except BaseException:
        os.rename(aside, run_dir)
        raise
    shutil.rmtree(inside(RUNS_DIR, aside))
    return run


def _move_root(run: Run, root: str) -> None:
    """Record where the run's data lies now: only ``data.root`` of config.toml changes (a person's
    other keys, and those of older versions, are kept as they are)."""
    path = run.dir / "config.toml"
    table = read_toml(path)  # the raw tables: a person's keys are kept as they are
    table["competition"]["data"]["root"] = root
    write_text(path, tomli_w.dumps(table))
    run.competition.data.root = root


def folds_frame(ids, labels, fold_of_row) -> pd.DataFrame:
    """folds.csv: id, label and the validation fold of every training row."""
    return pd.DataFrame({"id": list(ids), "label": list(labels), "fold": list(fold_of_row)})
