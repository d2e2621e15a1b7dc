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

import hashlib
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
from comp.atomic import atomic_dir, sweep_temporary, write_json, write_text
from comp.errors import CompError
from comp.paths import check_name, inside
from comp.recipe import Recipe, recipe_from_dict
from comp.spec import Competition, competition_from_dict, to_dict

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


def run_config(competition: Competition, recipe: Recipe, n_folds: int, val_fraction: float,
               overrides: list[str], recipe_ref: str, subset: int = 0, data_fingerprint: str = "",
               split_seed: int | None = None) -> dict:
    """What a run is: the competition, the resolved recipe, the split and the flags the rule
    guard reads (``pretrained``). Runs of older versions also carry ``external_data = false``,
    which nothing could set; it is no longer written. ``split_seed`` (the folds' and ``--subset``
    draw's seed) is written only where it differs from ``train.seed``: older runs keep their ids."""
    config = {
        "run": {
            "competition": competition.name,
            "recipe": recipe.name,
            "recipe_ref": recipe_ref,
            "folds": n_folds,
            "val_fraction": val_fraction,
            "seed": recipe.train.seed,
            "overrides": list(overrides),
            "pretrained": uses_pretrained_weights(recipe),
        },
        "competition": to_dict(competition),
        "recipe": recipe_table(recipe),
    }
    if subset:  # only where used: full-data runs keep the ids they had before the key existed
        config["run"]["subset"] = subset
    if data_fingerprint:  # the training files and labels (comp.data.images.data_fingerprint)
        config["run"]["data_fingerprint"] = data_fingerprint
    if split_seed is not None and split_seed != recipe.train.seed:
        config["run"]["split_seed"] = split_seed
    return config


MUON_KEYS = ("muon_lr", "muon_momentum", "muon_ns_steps")


def recipe_table(recipe: Recipe) -> dict:
    """The recipe as a run records it: no [teacher] (comp.train.teacher.record adds it for a
    student), and the muon keys only for ``train.optimizer = "muon"``, so that runs of other
    optimizers keep the ids they had before the keys existed."""
    table = {k: v for k, v in to_dict(recipe).items() if k != "teacher"}
    if recipe.train.optimizer != "muon":
        table["train"] = {k: v for k, v in table["train"].items() if k not in MUON_KEYS}
    return table


def _as_today(config: dict) -> dict:
    """A saved config with the recipe keys added since it was written at their defaults
    (which keep the old behaviour), so an older run reopens without a spurious difference."""
    try:
        recipe = recipe_from_dict(config["recipe"], "config.toml [recipe]")
    except CompError:
        return config
    table = recipe_table(recipe)
    if "teacher" in config["recipe"]:
        table["teacher"] = config["recipe"]["teacher"]
    return {**config, "recipe": table}


def uses_pretrained_weights(recipe: Recipe) -> bool:
    """Whether the recipe's model loads weights trained outside the competition.

    ``model.weights`` (``imagenet`` or a local file's path; ``none`` is a random start), or the
    builder's default where the recipe leaves the key out.
    """
    from comp.models import effective_options

    weights = effective_options(recipe.model_name, recipe.model_options).get("weights", "none")
    return weights not in (None, "none")


def _identity(run_table: dict) -> dict:
    """The [run] keys that make a run what it is: not how it was asked for (overrides, the
    recipe's path), nor the retired ``external_data`` flag. The data fingerprint is checked
    apart when a run is reopened (comp.train.kfold), with a message of its own."""
    ignored = {"overrides", "recipe_ref", "external_data", "data_fingerprint"}
    return {k: v for k, v in run_table.items() if k not in ignored}


def _hashed_rules(rules: dict) -> dict:
    """The rules as the hash has always seen them: rules decide what may be submitted, not a
    run's results, so a rule added later (``test_data_training``) stays out and old runs keep their ids."""
    return {k: v for k, v in rules.items() if k != "test_data_training"}


def config_hash(config: dict) -> str:
    """A short hash of what determines a run's results (not where the data lives)."""
    return hashlib.sha1(json.dumps(config_identity(config), sort_keys=True).encode()).hexdigest()[:6]


def run_id_for(config: dict, prefix: str | None = None) -> str:
    """``<prefix>-<folds>f-<config hash>``; the prefix defaults to the recipe's name."""
    return f"{prefix or config['run']['recipe']}-{config['run']['folds']}f-{config_hash(config)}"


def _diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


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


def config_identity(config: dict) -> dict:
    """What makes a run what it is: the [run] table's identity keys, the recipe, and the
    competition's spec except where the data lives and where it is submitted ([platform])."""
    competition = {**config.get("competition", {})}
    competition["data"] = {**competition.get("data", {}), "root": ""}
    competition.pop("platform", None)  # where submissions go (comp submit), not what a run computes
    if "rules" in competition:
        competition["rules"] = _hashed_rules(competition["rules"])
    return {"run": _identity(config["run"]), "recipe": config["recipe"], "competition": competition}


def _changes(saved: dict, new: dict) -> list[str]:
    """What differs between a run's saved config and the one asked for now, in its identity."""
    return _diff(config_identity(_as_today(saved)), config_identity(_as_today(new)))


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
        changes = _changes(run.config, config)
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
