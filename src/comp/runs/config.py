"""A run's config, typed: what a run is, built in one place (:func:`build_run_config`), saved
whole in its ``config.toml`` (:meth:`RunConfig.to_table`) and read back checked
(:func:`read_run_config`). What of it decides the run's results and id: :mod:`comp.runs.identity`.

``config.toml``::

    toolkit_version = "0.1.0"
    created = "2026-12-04T21:00:00+00:00"
    [run]          competition, recipe, recipe_ref, folds, val_fraction, seed, overrides, pretrained,
                   and only where set: subset, data_fingerprint, split_seed, teacher, test_data, time_budget_s
    [competition]  the resolved spec
    [recipe]       the resolved recipe, every key

Example::

    config = build_run_config(competition, recipe, "fast", [], n_folds=5)
    run_id = run_id_for(config)       # fast-5f-<hash> (comp.runs.identity)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from comp.config.recipe import Recipe, recipe_from_dict
from comp.config.spec import Competition, competition_from_dict, read_toml, to_dict
from comp.errors import CompError


@dataclass
class TeacherRecord:
    """The teacher runs a student learnt from (``--distill`` / ``--pseudo-label``)."""

    distill: list[str] = field(default_factory=list)
    pseudo_label: list[str] = field(default_factory=list)


class TeacherRuns(Protocol):
    """What a run config reads of its teachers (:class:`comp.train.teacher.Teachers`)."""

    distill: list
    pseudo: list
    test_data: bool
    pretrained: bool


@dataclass
class RunConfig:
    competition: Competition
    recipe: Recipe
    recipe_ref: str  # the recipe as --recipe named it (a name or a path)
    folds: int
    val_fraction: float
    overrides: list[str]  # the --set overrides, as typed
    pretrained: bool  # loaded weights trained outside the competition (or learnt from a teacher that did)
    subset: int = 0  # --subset: training images per class; 0: all
    data_fingerprint: str = ""  # the training files and labels (comp.data.images.data_fingerprint)
    split_seed: int | None = None  # the folds' and --subset draw's seed where not train.seed (--seeds)
    time_budget_s: float | None = None  # --time-budget: a budgeted run is a run of its own
    teacher: TeacherRecord | None = None  # a student's teachers
    test_data: bool = False  # trained on test images (pseudo-labels, or a teacher that was)
    created: str = ""
    toolkit_version: str = ""

    @property
    def seed(self) -> int:
        return self.recipe.train.seed

    @property
    def fold_seed(self) -> int:
        """The seed of the run's folds and ``--subset`` draw."""
        return self.seed if self.split_seed is None else self.split_seed

    def to_table(self) -> dict:
        """config.toml's tables. Keys that are unset are left out, as runs have always written them."""
        run: dict[str, Any] = {"competition": self.competition.name, "recipe": self.recipe.name,
                               "recipe_ref": self.recipe_ref, "folds": self.folds, "val_fraction": self.val_fraction,
                               "seed": self.seed, "overrides": list(self.overrides), "pretrained": self.pretrained}
        optional = {"subset": self.subset or None, "data_fingerprint": self.data_fingerprint or None,
                    "split_seed": None if self.split_seed == self.seed else self.split_seed,
                    "teacher": None if self.teacher is None else to_dict(self.teacher),
                    "test_data": self.test_data if self.teacher is not None else None,
                    "time_budget_s": self.time_budget_s or None}
        run.update({k: v for k, v in optional.items() if v is not None})
        stamps = {k: v for k, v in (("toolkit_version", self.toolkit_version), ("created", self.created)) if v}
        return {**stamps, "run": run, "competition": to_dict(self.competition), "recipe": to_dict(self.recipe)}


def uses_pretrained_weights(recipe: Recipe) -> bool:
    """Whether the recipe's model loads weights trained outside the competition: ``model.weights``
    (``imagenet`` or a local file's path; ``none`` is a random start), or the builder's default
    where the recipe leaves the key out."""
    from comp.models import effective_options

    weights = effective_options(recipe.model_name, recipe.model_options).get("weights", "none")
    return weights not in (None, "none")


def build_run_config(competition: Competition, recipe: Recipe, recipe_ref: str, overrides: list[str],
                     n_folds: int, val_fraction: float = 0.2, subset: int = 0, data_fingerprint: str = "",
                     split_seed: int | None = None, teachers: TeacherRuns | None = None,
                     time_budget_s: float | None = None) -> RunConfig:
    """The one place a run's config is made, from what ``comp train`` (or a comparison row) asks for."""
    config = RunConfig(competition, recipe, recipe_ref, n_folds, val_fraction, list(overrides),
                       uses_pretrained_weights(recipe), subset, data_fingerprint, split_seed,
                       float(time_budget_s) if time_budget_s else None)
    if teachers:
        config.teacher = TeacherRecord([r.id for r in teachers.distill], [r.id for r in teachers.pseudo])
        config.test_data = teachers.test_data
        config.pretrained = config.pretrained or teachers.pretrained
    return config


# --------------------------------------------------------------------------- reading config.toml


def _get(table: dict, key: str, kind: type | tuple, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise CompError(f"{where}: [run] {key} is missing")
        return default
    value = table[key]
    ok = isinstance(value, kind) and not isinstance(value, bool) or (kind is bool and isinstance(value, bool))
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        raise CompError(f"{where}: [run] {key} has the wrong type or value. Received: {key}={value!r}")
    return value


def _teacher(table: dict, where: str) -> TeacherRecord | None:
    record = table.get("teacher")
    if record is None:
        return None
    lists = [record.get(k) if isinstance(record, dict) else None for k in ("distill", "pseudo_label")]
    if not all(isinstance(x, list) and all(isinstance(i, str) for i in x) for x in lists):
        raise CompError(f"{where}: [run] teacher must hold the lists distill and pseudo_label. Received: {record!r}")
    return TeacherRecord(*lists)


def run_config_from_table(table: dict, where: str) -> RunConfig:
    """A config.toml's tables, checked: one line naming the file and the key where they do not hold."""
    for name in ("run", "competition", "recipe"):
        if not isinstance(table.get(name), dict):
            raise CompError(f"{where}: the table [{name}] is missing")
    run = table["run"]
    competition = competition_from_dict(table["competition"], f"{where} [competition]")
    recipe = recipe_from_dict(table["recipe"], f"{where} [recipe]")
    overrides = _get(run, "overrides", list, where, [])
    if not all(isinstance(o, str) for o in overrides):
        raise CompError(f"{where}: [run] overrides must be a list of strings. Received: overrides={overrides!r}")
    folds = _get(run, "folds", int, where)
    if folds < 1:
        raise CompError(f"{where}: [run] folds must be at least 1. Received: folds={folds!r}")
    budget = _get(run, "time_budget_s", (int, float), where, None)
    return RunConfig(
        competition, recipe, _get(run, "recipe_ref", str, where, recipe.name), folds,
        float(_get(run, "val_fraction", (int, float), where, 0.2)), overrides,
        _get(run, "pretrained", bool, where, False), _get(run, "subset", int, where, 0),
        _get(run, "data_fingerprint", str, where, ""), _get(run, "split_seed", int, where, None),
        None if budget is None else float(budget), _teacher(run, where), _get(run, "test_data", bool, where, False),
        str(table.get("created", "")), str(table.get("toolkit_version", "")))


def read_run_config(path: Path) -> RunConfig:
    return run_config_from_table(read_toml(path), str(path))
