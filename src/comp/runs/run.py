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
"""

from __future__ import annotations

import json
import shutil
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import tomli_w

import numpy as np

from comp import __version__
from comp.files.atomic import atomic_dir, sweep_temporary, write_json, write_text
from comp.errors import CompError
from comp.files.paths import check_name, inside
from comp.config.recipe import Recipe, recipe_from_dict
from comp.runs.identity import changes as config_changes
from comp.runs.identity import run_id_for
from comp.config.spec import Competition, competition_from_dict

RUNS_DIR = Path("runs")


@dataclass
class Run:
    dir: Path
    config: dict

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def competition(self) -> Competition:
        return competition_from_dict(self.config["competition"], f"{self.dir}/config.toml [competition]")

    @property
    def recipe(self) -> Recipe:
        return recipe_from_dict(self.config["recipe"], f"{self.dir}/config.toml [recipe]")

    @property
    def subset(self) -> int:
        """Training images per class the run was limited to (``--subset``); 0: all."""
        return int(self.config["run"].get("subset", 0))

    @property
    def split_seed(self) -> int:
        """The seed of the run's folds and ``--subset`` draw: ``train.seed`` unless recorded (``--seeds``)."""
        return int(self.config["run"].get("split_seed", self.config["run"]["seed"]))

    @property
    def n_folds(self) -> int:
        return int(self.config["run"]["folds"])

    def fold_dir(self, k: int) -> Path:
        return self.dir / f"fold-{k}"

    def fold_done(self, k: int) -> bool:
        return (self.fold_dir(k) / "metrics.json").is_file()

    def finished_folds(self) -> list[int]:
        return [k for k in range(self.n_folds) if self.fold_done(k)]

    def fold_metrics(self, k: int) -> dict:
        """A finished fold's metrics.json (its scores, epochs, seconds)."""
        return json.loads((self.fold_dir(k) / "metrics.json").read_text())

    def oof(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row indices, integer labels, OOF probabilities) of every validated row of finished folds."""
        table = self.fold_table()
        classes = {c: i for i, c in enumerate(self.class_names)}
        rows, probs = [], []
        for k in self.finished_folds():
            rows.append(np.flatnonzero(table["fold"].to_numpy() == k))
            probs.append(np.load(self.fold_dir(k) / "oof.npy"))
        if not rows:
            raise CompError(f"{self.dir}: no finished folds")
        rows = np.concatenate(rows)
        return rows, table["label"].map(classes).to_numpy()[rows], np.concatenate(probs)

    @property
    def class_names(self) -> list[str]:
        return json.loads((self.dir / "classes.json").read_text())["classes"]

    def fold_table(self) -> pd.DataFrame:
        return pd.read_csv(self.dir / "folds.csv", dtype={"id": str, "label": str, "fold": int},
                           keep_default_na=False)

    @property
    def model_label(self) -> str:
        """The model as tables show it: ``vgg``, or ``transfer:ResNet50V2`` (with its backbone)."""
        model = self.config["recipe"]["model"]
        return f"{model['name']}:{model['backbone']}" if "backbone" in model else model["name"]

    @property
    def pretrained(self) -> bool:
        return bool(self.config["run"].get("pretrained", False))

    def metrics(self) -> dict | None:
        path = self.dir / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else None


def run_dir_of(competition: str, run_id: str) -> Path:
    """runs/<competition>/<run id>, both checked as plain names."""
    return RUNS_DIR / check_name(competition, "competition") / check_name(run_id, "--run")


def open_run(competition: str, run_id: str) -> Run:
    run_dir = run_dir_of(competition, run_id)
    cfg_path = run_dir / "config.toml"
    if not cfg_path.is_file():
        known = [r.id for r in list_runs(competition)]
        hint = f" Runs of {competition}: {', '.join(known[-5:])}" if known else f" No runs of {competition} yet."
        raise CompError(f"run '{run_id}' not found in {RUNS_DIR / competition}.{hint}")
    with cfg_path.open("rb") as f:
        return Run(run_dir, tomllib.load(f))


def run_lock(competition: str, run_id: str) -> Path:
    """The run's lock file: beside its folder, so a --restart that deletes the folder keeps it."""
    return RUNS_DIR / check_name(competition, "competition") / f".{check_name(run_id, '--run')}.lock"


def create_run(config: dict, run_id: str | None, restart: bool, class_names: list[str],
               fold_table: pd.DataFrame) -> tuple[Run, bool]:
    """The run for ``config``: (run, existed). An existing run must have the same identity.

    A new run is written whole (config.toml, classes.json, folds.csv) into a temporary folder
    and renamed into place, so a kill leaves either no run or a complete one. The caller holds
    the run's lock (:func:`run_lock`).
    """
    run_id = run_id or run_id_for(config)
    run_dir = run_dir_of(config["run"]["competition"], run_id)
    sweep_temporary(run_dir.parent)
    if restart and run_dir.exists():
        shutil.rmtree(inside(RUNS_DIR, run_dir))
    if (run_dir / "config.toml").is_file():
        run = open_run(config["run"]["competition"], run_id)
        changes = config_changes(run.config, config)
        if changes:
            raise CompError(f"{run_dir} already exists with a different config ({'; '.join(changes[:3])}); "
                            f"pass another --run, or --restart to start it over")
        for folder in (run_dir, run_dir / "plots", *run_dir.glob("fold-*")):
            sweep_temporary(folder)  # what writers killed in this run left
        if run.config["competition"]["data"].get("root") != config["competition"]["data"]["root"]:
            run.config["competition"]["data"]["root"] = config["competition"]["data"]["root"]  # --data moved it
            write_text(run_dir / "config.toml", tomli_w.dumps(run.config))
        return run, True
    config = {"toolkit_version": __version__,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **config}
    with atomic_dir(inside(RUNS_DIR, run_dir), "the run") as tmp:
        write_text(tmp / "config.toml", tomli_w.dumps(config))
        write_json(tmp / "classes.json", {"classes": list(class_names)})
        write_text(tmp / "folds.csv", fold_table.to_csv(index=False))
    return Run(run_dir, config), False


def list_runs(competition: str | None = None) -> list[Run]:
    """Runs sorted by creation time (oldest first)."""
    pattern = f"{competition}/*/config.toml" if competition else "*/*/config.toml"
    runs = []
    for cfg in RUNS_DIR.glob(pattern):
        if cfg.parent.name.startswith("."):  # a run being created
            continue
        try:
            with cfg.open("rb") as f:
                runs.append(Run(cfg.parent, tomllib.load(f)))
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return sorted(runs, key=lambda r: (r.config.get("created", ""), r.id))


def latest_run(competition: str) -> Run:
    runs = list_runs(competition)
    if not runs:
        raise CompError(f"no runs of '{competition}' in {RUNS_DIR / competition}; train one with "
                        f"`comp train --competition {competition}`")
    return runs[-1]


def folds_frame(ids, labels, fold_of_row) -> pd.DataFrame:
    """folds.csv: id, label and the validation fold of every training row."""
    return pd.DataFrame({"id": list(ids), "label": list(labels), "fold": list(fold_of_row)})
