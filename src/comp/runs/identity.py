"""What makes a run what it is: its config (:func:`run_config`), the part of it that decides
its results (:func:`config_identity`), the hash in its default id (:func:`config_hash`), and
the differences between a saved run and the one asked for now (:func:`changes`).

A key added to a recipe later must keep older runs' ids: :func:`recipe_table` leaves out the
keys of an unused optimizer, and :func:`changes` reads a saved config with the keys added since
at their defaults.
"""

from __future__ import annotations

import hashlib
import json

from comp.errors import CompError
from comp.config.recipe import Recipe, recipe_from_dict
from comp.config.spec import Competition, to_dict


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


def config_identity(config: dict) -> dict:
    """What makes a run what it is: the [run] table's identity keys, the recipe, and the
    competition's spec except where the data lives and where it is submitted ([platform])."""
    competition = {**config.get("competition", {})}
    competition["data"] = {**competition.get("data", {}), "root": ""}
    competition.pop("platform", None)  # where submissions go (comp submit), not what a run computes
    if "rules" in competition:
        competition["rules"] = _hashed_rules(competition["rules"])
    return {"run": _identity(config["run"]), "recipe": config["recipe"], "competition": competition}


def changes(saved: dict, new: dict) -> list[str]:
    """What differs between a run's saved config and the one asked for now, in its identity."""
    return _diff(config_identity(_as_today(saved)), config_identity(_as_today(new)))
